"""`memtui status`: every GPU, host memory and the live run, read once.

Three shapes: a readable report (default), `--json` for machines, and
`--once`, one short line for a tmux status bar.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tui.cli.options import add_runs_dir_option, runs_root
from tui.common.units import format_bytes, format_percent, format_used_total
from tui.telemetry.jsonform import snapshot_to_dict
from tui.telemetry.sampler import read_once
from tui.telemetry.snapshot import GpuDevice, Snapshot

_METHOD_WORDS = {
    "pid": "by process id",
    "new-pids": "processes started after launch (container pids)",
    "baseline": "device use minus the reading before launch",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print one JSON object for scripts")
    shape.add_argument("--once", action="store_true", help="print one short line (for a tmux status bar)")
    add_runs_dir_option(parser)


def run(ns: argparse.Namespace) -> int:
    snapshot = read_once()
    live = live_run_text(runs_root(ns))
    if ns.json:
        print(json.dumps({**snapshot_to_dict(snapshot), "live_run": live}, indent=2))
    elif ns.once:
        print(one_line(snapshot, live))
    else:
        print(report(snapshot, live))
    return 0


def live_run_text(root: Path) -> str | None:
    """The live run's summary from the run store, when that part is installed.

    Hook for `tui.runs.store.live_run_summary(root) -> str | None`; until it exists
    the status shows telemetry only.
    """
    try:
        from tui.runs.store import live_run_summary  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        return live_run_summary(root)
    except Exception as exc:  # a damaged run folder must not cost the GPU report
        return f"live run unknown ({exc})"


def one_line(snapshot: Snapshot, live: str | None = None) -> str:
    parts = [_device_short(g) for g in snapshot.gpus]
    if not snapshot.gpus:
        parts.append("no GPU" if snapshot.gpu_status == "no-driver" else f"GPU {snapshot.gpu_status}")
    host = snapshot.host
    parts.append(f"host {format_used_total(host.used_bytes, host.total_bytes)}")
    if live:
        parts.append(live)
    return " · ".join(parts)


def _device_short(gpu: GpuDevice) -> str:
    if gpu.lost:
        return f"GPU{gpu.index} LOST"
    if gpu.problem and not gpu.total_bytes:
        return f"GPU{gpu.index} ?"
    return f"GPU{gpu.index} {format_used_total(gpu.used_bytes, gpu.total_bytes)}"


def report(snapshot: Snapshot, live: str | None = None) -> str:
    lines: list[str] = []
    if snapshot.gpu_status != "ok":
        lines.append(f"GPU     none: {snapshot.gpu_message or snapshot.gpu_status}")
    elif not snapshot.gpus:
        lines.append("GPU     none: the NVIDIA driver sees no GPU on this host")
    for gpu in snapshot.gpus:
        lines.extend(_device_lines(gpu))
    host = snapshot.host
    lines.append(
        f"Host    RAM {format_used_total(host.used_bytes, host.total_bytes)} used "
        f"({format_percent(host.used_bytes, host.total_bytes)}), {format_bytes(host.available_bytes)} available"
        + (f" · swap {format_used_total(host.swap_used_bytes, host.swap_total_bytes)}"
           if host.swap_total_bytes else " · no swap")
    )
    if snapshot.trainer is not None:
        t = snapshot.trainer
        lines.append(f"Trainer RSS {format_bytes(t.rss_bytes)} over {len(t.pids)} processes, CPU {t.cpu_percent:.0f}%")
    lines.append(f"Run     {live}" if live else "Run     no live run")
    lines.extend(f"Problem {e}" for e in snapshot.errors)
    return "\n".join(lines)


def _device_lines(gpu: GpuDevice) -> list[str]:
    head = f"GPU {gpu.index}   {gpu.name}"
    if gpu.lost or (gpu.problem and not gpu.total_bytes):
        return [f"GPU {gpu.index}   {gpu.problem}"]
    util = "?" if gpu.utilization_percent is None else f"{gpu.utilization_percent}%"
    reserved = f", {format_bytes(gpu.reserved_bytes)} reserved by the driver" if gpu.reserved_bytes else ""
    lines = [
        f"{head}  {format_used_total(gpu.used_bytes, gpu.total_bytes)} used "
        f"({format_percent(gpu.used_bytes, gpu.total_bytes)}), {format_bytes(gpu.free_bytes)} free{reserved}"
        f" · utilisation {util}"
    ]
    if gpu.run_bytes is not None:
        how = _METHOD_WORDS.get(gpu.attribution, gpu.attribution)
        lines.append(f"        this run {format_bytes(gpu.run_bytes)} ({how}) · others "
                     f"{format_bytes(gpu.other_bytes)}")
    for p in gpu.processes:
        mark = "  (this run)" if p.is_run else ""
        used = format_bytes(p.used_bytes)
        lines.append(f"        pid {p.pid:<8} {p.name[:20]:<20} {p.user[:12]:<12} {used:>7}{mark}")
    if gpu.problem:
        lines.append(f"        problem: {gpu.problem}")
    return lines
