"""Check memtui's GPU telemetry against nvidia-smi on a machine with an NVIDIA GPU and PyTorch.

Starts an "other" child holding 1 GiB on GPU 0, takes the before-launch
baseline, starts the "run" child holding 4 GiB, then compares one memtui
snapshot with `nvidia-smi --query-gpu` and `--query-compute-apps`:
  * per device, used memory within 1% or 16 MiB (whichever is larger), same total;
  * the run child attributed to the run, with nvidia-smi's per-process figure;
  * the other child listed under other processes.
Prints the figures; exits 1 on any disagreement, 2 when there is no GPU to check.
No TensorFlow.   .venv/bin/python bench/gpu_check.py [--run-gib 4] [--other-gib 1] [--device 0]
"""

from __future__ import annotations

import argparse
import importlib.util
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.telemetry.reader import TelemetryReader
from tui.telemetry.sampler import read_once
from tui.telemetry.snapshot import Snapshot

MIB = 1024**2
GIB = 1024**3

_HOLDER = """
import sys, torch
x = torch.empty(int(sys.argv[1]), dtype=torch.uint8, device=sys.argv[2])
x.fill_(7)
torch.cuda.synchronize()
print("ready", flush=True)
sys.stdin.read()  # hold the memory until the parent closes our stdin
"""


def no_gpu_reason() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return "gpu_check: PyTorch is not installed here; it needs a machine with an NVIDIA GPU and torch"
    if shutil.which("nvidia-smi") is None:
        return "gpu_check: no nvidia-smi on this machine; it needs an NVIDIA GPU and its driver"
    snapshot = read_once()
    if snapshot.gpu_status != "ok" or not snapshot.gpus:
        return f"gpu_check: no GPU to check ({snapshot.gpu_message or 'NVML lists no device'})"
    return None


def hold(nbytes: int, device: int) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(nbytes), f"cuda:{device}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], 180)
    if not ready or child.stdout.readline().strip() != "ready":
        child.kill()
        raise RuntimeError(f"a child could not hold {nbytes / GIB:.1f} GiB on cuda:{device}")
    return child


def smi(query: str) -> list[list[str]]:
    out = subprocess.run(
        ["nvidia-smi", query, "--format=csv,noheader,nounits"], capture_output=True, text=True, check=True,
    ).stdout
    return [[cell.strip() for cell in line.split(",")] for line in out.splitlines() if line.strip()]


def compare(snapshot: Snapshot, run_pid: int, other_pid: int, device: int, run_bytes: int) -> list[str]:
    """The disagreements between memtui and nvidia-smi, printing every figure on the way."""
    problems: list[str] = []
    gpus = smi("--query-gpu=index,memory.used,memory.total")
    apps = {int(pid): int(used) for pid, used in smi("--query-compute-apps=pid,used_memory") if used.isdigit()}
    print(f"{'GPU':<4}{'memtui used MiB':>16}{'nvidia-smi used MiB':>21}{'total MiB (memtui/smi)':>26}")
    for (index, used, total), gpu in zip(gpus, snapshot.gpus, strict=False):
        ours_used, ours_total = gpu.used_bytes / MIB, gpu.total_bytes / MIB
        print(f"{index:<4}{ours_used:>16.0f}{int(used):>21}{ours_total:>15.0f}/{total:<10}")
        tolerance = max(0.01 * int(used), 16)
        if abs(ours_used - int(used)) > tolerance:
            problems.append(f"GPU {index}: memtui says {ours_used:.0f} MiB used, nvidia-smi {used} MiB "
                            f"(tolerance {tolerance:.0f} MiB)")
        if abs(ours_total - int(total)) > 1:
            problems.append(f"GPU {index}: total {ours_total:.0f} MiB vs nvidia-smi {total} MiB")
    if len(gpus) != len(snapshot.gpus):
        problems.append(f"memtui sees {len(snapshot.gpus)} GPUs, nvidia-smi {len(gpus)}")

    gpu = snapshot.gpus[device]
    listed = {p.pid: p for p in gpu.processes}
    print(f"GPU {device}: attribution {gpu.attribution}, run {(gpu.run_bytes or 0) / MIB:.0f} MiB, "
          f"others {(gpu.other_bytes or 0) / MIB:.0f} MiB")
    for label, pid in (("run", run_pid), ("other", other_pid)):
        p = listed.get(pid)
        ours = "-" if p is None or p.used_bytes is None else f"{p.used_bytes / MIB:.0f}"
        print(f"  {label:<6} pid {pid:<8} memtui {ours:>7} MiB  nvidia-smi {apps.get(pid, '-')!s:>7} MiB  "
              f"{'(this run)' if p is not None and p.is_run else '(other)' if p is not None else '(not listed)'}")
        known = pid in apps and p is not None and p.used_bytes is not None
        if known and abs(p.used_bytes / MIB - apps[pid]) > max(0.01 * apps[pid], 16):  # type: ignore[union-attr]
            problems.append(f"{label} pid {pid}: memtui {p.used_bytes / MIB:.0f} MiB, nvidia-smi {apps[pid]} MiB")
    run_proc, other_proc = listed.get(run_pid), listed.get(other_pid)
    if gpu.attribution == "pid":
        if run_proc is None or not run_proc.is_run:
            problems.append(f"the run child (pid {run_pid}) is not attributed to the run")
        if other_proc is None or other_proc.is_run:
            problems.append(f"the other child (pid {other_pid}) is not listed under other processes")
    else:
        print(f"  (NVML pids are from another namespace here: attributed by {gpu.attribution})")
    if gpu.run_bytes is None or gpu.run_bytes < run_bytes:
        problems.append(f"run share {gpu.run_bytes} B is below the {run_bytes / GIB:.1f} GiB the run child holds")
    other_held = other_proc.used_bytes if other_proc is not None and other_proc.used_bytes else 0
    if gpu.other_bytes is None or gpu.other_bytes < other_held:
        problems.append(f"others' share {gpu.other_bytes} B leaves out the other child's {other_held} B")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-gib", type=float, default=4.0)
    parser.add_argument("--other-gib", type=float, default=1.0)
    parser.add_argument("--device", type=int, default=0)
    args = parser.parse_args()
    reason = no_gpu_reason()
    if reason:
        print(reason)
        return 2

    reader = TelemetryReader()
    children: list[subprocess.Popen[str]] = []
    try:
        children.append(hold(int(args.other_gib * GIB), args.device))
        reader.take_baseline()  # the other child is already there: it is not the run's
        children.append(hold(int(args.run_gib * GIB), args.device))
        other, run = children
        reader.set_run(run.pid)
        time.sleep(1.0)  # let NVML's process accounting settle
        snapshot = reader.read()
        problems = compare(snapshot, run.pid, other.pid, args.device, int(args.run_gib * GIB))
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"gpu_check: {exc}")
        return 1
    finally:
        for child in children:
            if child.stdin is not None:
                child.stdin.close()
            child.kill()
            child.wait()
        reader.close()
    for problem in problems:
        print(f"DISAGREE: {problem}")
    print("gpu_check: memtui agrees with nvidia-smi" if not problems else f"gpu_check: {len(problems)} disagreement(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
