"""A stand-in for the trainer: a real subprocess speaking the real protocol, no TensorFlow.

Run as `python -m tests.stand_in_trainer --run-dir RUN`, the way the reaper runs
`python -m trainer`. It reads `RUN/config.json` (a RunConfig: `epochs`,
`steps_per_epoch`, `batch_size` shape the run) and a script from the environment
variable `STAND_IN_SCRIPT`: a JSON object, or the path of a file holding one (a
file lets a test change the script between launches).

Script keys (all optional):

- `steps` (int, default: config.steps_per_epoch or 20): steps per epoch.
- `epochs` (int, default: config.epochs): epochs.
- `rate` (float, default 50): steps per second. Steps are scheduled on absolute
  times, so 2000 gives a steady 2,000 events a second (written in bursts when
  the process falls behind).
- `start_delay` (float, default 0): seconds before `run_start`, like importing TensorFlow.
- `unguarded_delay` (float, default 0): seconds slept before any signal handler is
  installed, so a SIGINT then ends the process the way it ends Python by default.
- `end` (str, default "finished"): how the run ends after its steps, or at
  `end_at_step` if given:
  `finished` (run_end finished, exit 0); `oom` (an `oom` event, a
  ResourceExhaustedError line on stderr, run_end oom, exit 3); `crash` (an
  uncaught ZeroDivisionError: traceback on stderr, exit 4 after an `error`
  event); `sigkill` (kills itself with SIGKILL, no run_end); `abort`
  (os.abort(): SIGABRT, no run_end); `segv` (a real NULL-pointer read through
  ctypes: SIGSEGV, no run_end); `exit` (exits with `exit_code`, no run_end).
- `end_at_step` (int): global step after which `end` happens (default: the last).
- `oom_above_batch` (int): end with `oom` at step 1 when batch_size is above this
  (lets tests see "halve the batch" work).
- `exit_code` (int, default 1): the code for `end: exit`.
- `ignore_sigint` (bool): ignore SIGINT and SIGTERM (stop must escalate to SIGKILL).
- `sigterm_kills` (bool): ignore SIGINT and leave SIGTERM to its default, so a stop's
  second step ends the process by the signal (exit -15), as a framework that swallows SIGINT.
- `stop_delay` (float, default 0): seconds spent "saving" after SIGINT before run_end.
- `garbage_every` (int): after every Nth step, write a line that is not JSON.
- `partial_every` (int): every Nth step event is written in two halves with a
  pause between, so readers see a line without its newline.
- `stderr` (list of str): lines written to stderr at start (TensorFlow-like noise).
- `worker` (int, MiB): start a child process holding that much memory, like a
  data-loading worker; it stays in the run's process group until it is killed.
  Its pid is written to `RUN/worker.pid`.
- `peak_base` (int, default 100 MB): the `memory.peak` reported at step 1; it grows by 1 MB a step.

SIGINT and SIGTERM are honoured like the real trainer: finish the step, write
run_end `stopped`, exit 130.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from trainer.config import RunConfig
from trainer.protocol import ExitCode, encode

SCRIPT_ENV = "STAND_IN_SCRIPT"
MB = 1 << 20


def load_script() -> dict[str, Any]:
    raw = os.environ.get(SCRIPT_ENV, "").strip()
    if not raw:
        return {}
    if not raw.startswith("{"):
        raw = Path(raw).read_text(encoding="utf-8")
    script = json.loads(raw)
    if not isinstance(script, dict):
        raise SystemExit(f"{SCRIPT_ENV}: expected a JSON object")
    return script


class StandIn:
    def __init__(self, run_dir: Path, script: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.script = script
        cfg_path = run_dir / "config.json"
        self.config = RunConfig.load(cfg_path) if cfg_path.exists() else RunConfig()
        self.stop_requested = False
        self.events = open(run_dir / "events.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.steps_done = 0
        self.peak = int(script.get("peak_base", 100 * MB))

    def emit(self, type_: str, **fields: Any) -> None:
        self.events.write(encode(type_, **fields) + "\n")
        self.events.flush()

    def on_stop(self, signum: int, frame: object) -> None:
        self.stop_requested = True

    def run(self) -> int:
        s = self.script
        time.sleep(float(s.get("unguarded_delay", 0)))
        if s.get("ignore_sigint"):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif s.get("sigterm_kills"):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGINT, self.on_stop)
            signal.signal(signal.SIGTERM, self.on_stop)
        if s.get("worker"):
            self.start_worker(int(s["worker"]))
        for line in s.get("stderr", []):
            print(line, file=sys.stderr, flush=True)
        time.sleep(float(s.get("start_delay", 0)))
        steps = int(s.get("steps", self.config.steps_per_epoch or 20))
        epochs = int(s.get("epochs", self.config.epochs))
        end = str(s.get("end", "finished"))
        end_at = int(s.get("end_at_step", steps * epochs))
        above = s.get("oom_above_batch")
        if above is not None and self.config.batch_size > int(above):
            end, end_at = "oom", 1
        self.emit("run_start", config=self.config.to_dict(), params=8_413_610,
                  devices=[{"name": "CPU:0", "type": "CPU"}],
                  tf_version="stand-in", keras_version="stand-in", memory_growth=self.config.memory_growth,
                  dataset={"files": 100, "classes": 10, "skipped": 0})
        rate = float(s.get("rate", 50))
        t0 = time.monotonic()
        for epoch in range(1, epochs + 1):
            for step in range(1, steps + 1):
                if self.stop_requested:
                    return self.stopped()
                target = t0 + self.steps_done / rate
                delay = target - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.step(epoch, step, steps)
                if self.steps_done >= end_at:
                    return self.finish(end)
            self.emit("epoch", epoch=epoch, metrics={"loss": 1.0 / epoch, "accuracy": 0.1 * epoch})
        return self.finish(end)

    def start_worker(self, mib: int) -> None:
        # Like a data-loading worker: nothing ends it when the trainer dies
        # of a signal, so it would hold its memory until someone kills it.
        code = f"import time; block = bytearray({mib} * 2**20); time.sleep(3600)"
        worker = subprocess.Popen([sys.executable, "-c", code, "--run-dir", str(self.run_dir)])
        (self.run_dir / "worker.pid").write_text(f"{worker.pid}\n", encoding="ascii")

    def step(self, epoch: int, step: int, steps: int) -> None:
        s = self.script
        self.steps_done += 1
        self.peak += MB
        line = encode("step", epoch=epoch, step=step, steps_in_epoch=steps, loss=round(2.0 / (1 + self.steps_done), 6),
                      accuracy=min(0.99, 0.01 * self.steps_done), batch_size=self.config.batch_size,
                      step_seconds=0.02, examples_per_second=1600.0,
                      memory={"current": self.peak - MB, "peak": self.peak})
        partial = int(s.get("partial_every", 0))
        if partial and self.steps_done % partial == 0:
            half = len(line) // 2
            self.events.write(line[:half])
            self.events.flush()
            time.sleep(0.05)
            self.events.write(line[half:] + "\n")
            self.events.flush()
        else:
            self.emit_line(line)
        garbage = int(s.get("garbage_every", 0))
        if garbage and self.steps_done % garbage == 0:
            self.emit_line("this is not json {")

    def emit_line(self, line: str) -> None:
        self.events.write(line + "\n")
        self.events.flush()

    def stopped(self) -> int:
        time.sleep(float(self.script.get("stop_delay", 0)))
        self.emit("run_end", status="stopped", steps=self.steps_done, peak_memory=self.peak)
        return ExitCode.STOPPED

    def finish(self, end: str) -> int:
        if end == "finished":
            self.emit("run_end", status="finished", steps=self.steps_done, peak_memory=self.peak)
            return ExitCode.FINISHED
        if end == "oom":
            shape = f"[{self.config.batch_size},{self.config.image_size},{self.config.image_size},32]"
            message = (f"OOM when allocating tensor with shape{shape} and type float on "
                       "/job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc")
            self.emit("oom", kind="device", message=message, shape=shape, dtype="float",
                      device="/job:localhost/replica:0/task:0/device:GPU:0", allocator="GPU_0_bfc")
            print(f"tensorflow.python.framework.errors_impl.ResourceExhaustedError: {message}",
                  file=sys.stderr, flush=True)
            self.emit("run_end", status="oom", steps=self.steps_done, peak_memory=self.peak)
            return ExitCode.OOM
        if end == "crash":
            self.emit("error", exception="ZeroDivisionError", message="division by zero")
            self.emit("run_end", status="error", steps=self.steps_done, peak_memory=self.peak)
            self.events.close()
            _ = 1 / 0  # a real uncaught exception with its traceback on stderr
        if end == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        if end == "abort":
            os.abort()
        if end == "segv":
            import ctypes

            ctypes.string_at(0)  # a real invalid read: the kernel sends SIGSEGV
        if end == "exit":
            return int(self.script.get("exit_code", 1))
        raise SystemExit(f"stand-in: unknown end {end!r}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="stand_in_trainer")
    parser.add_argument("--run-dir", required=True)
    ns = parser.parse_args()
    return StandIn(Path(ns.run_dir), load_script()).run()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ZeroDivisionError:
        import traceback

        traceback.print_exc()
        sys.exit(ExitCode.ERROR)
