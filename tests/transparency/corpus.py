"""Running one corpus script alone and under `memtui run --headless --json`, and
comparing what each run left behind.

Both runs start at the same time (one test, two processes), each in a fresh
folder of its own, with stdout and stderr on one file: that is how memtui's
reaper runs the script (its RUN/trainer.log), so the alone run is given the
same, and the two outputs compare line for line. Importing this module never
imports TensorFlow.

What the comparison normalises, and why (`normalised_output`):
- ANSI colour codes: Keras colours its progress bar the same either way; they
  are noise for a reader of the diff.
- Keras' progress bar: its updates within an epoch are throttled by
  wall-clock time (`Progbar.interval`, 0.05 s), so which steps get a bar line
  (`1/5`, `3/5`, `5/5` before and again after validation), and how many
  redraws (backspaces, carriage returns) a line holds, differs from run to
  run. Of each run of consecutive bar lines only the last redraw of the last
  line is compared (an epoch's final bar, with its validation metrics); a bar
  of unknown length (`k/Unknown`) is dropped.
- Memory addresses (`0x7f...`, in TensorFlow's retracing warning).
- Graph node paths quoted in TensorFlow's own C++ log lines (`'.../leaky_re_lu_1_2/...'`
  in grappler's "remapper failed" error): which uniquified name grappler reports
  changed between runs of the same seeded GAN, in both directions (seen alone and
  under memtui), so the node path becomes `'<node>'` and the message stays.
- Numbers (times, ETAs, pids, timestamps in TensorFlow's log prefix, and
  metric values) become `#`: timings share their lines with the metrics and
  never repeat. The metric values are not checked through the output; what
  the seeded runs computed is checked through the files they write (the
  weights in every saved model, byte for byte, `comparable`). A time unit
  after a number (`ms/step`, `us/step`, `2s`) goes with it.
- TensorFlow's "Local rendezvous is aborting with status: CANCELLED" warning
  and its `[[{{node MultiDeviceIteratorGetNextFromShard}}]]` line: written
  when MirroredStrategy's iterator is cancelled at the end of an epoch, 0, 1 or
  2 times for the same seeded script (seen so alone and under memtui), so
  these two lines are dropped. A C++ log line written into the middle of
  another line (from another thread) is split off first.
- The lines are compared as a multiset: the order in which TensorFlow's C++
  log (unbuffered stderr) and Python's buffered stdout reach the shared file
  is not fixed.
What is NOT normalised: any other word, metric name, warning, traceback line or path.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).parent / "scripts"
REPO = Path(__file__).resolve().parents[2]
MEMTUI = [sys.executable, "-m", "tui.cli"]
TIMEOUT = 240.0

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\x08")  # colours, and the bar's backspaces
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:ms|us|µs|s|m|h)?(?![A-Za-z])")
BAR_REDRAW = re.compile(r"(?=\d+/(?:\d+|Unknown) [━─\d])")
BAR_STEP = re.compile(r"(\d+)/(\d+|Unknown) ")
TF_LOG = re.compile(r"^[IWEF]\d{4} ")  # TensorFlow's C++ log prefix (I0000 00:00:...)
# A TensorFlow C++ log line that starts inside another line (written from another thread mid-bar).
TF_LOG_INSIDE = re.compile(r"(?<=\S)(?=[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [\w.]+:\d+\])")
# Written or not depending on when an input pipeline's last batch is cancelled (see the docstring).
TIMING_LOG = ("Local rendezvous is aborting with status: CANCELLED", "[[{{node MultiDeviceIteratorGetNextFromShard}}]]")
GRAPH_NODE = re.compile(r"'[\w/.:-]*/[\w/.:-]*'")
SHARED_ID = re.compile(rb'"shared_object_id": \d+')
HEX = re.compile(r"0x[0-9a-fA-F]+")
METRIC = re.compile(r"\b([A-Za-z_][\w]*): [-+]?(?:\d+\.?\d*|\.\d+|nan|inf)(?:[eE][-+]?\d+)?")


@dataclass
class Outcome:
    """One run's exit status, output and the files it left in its own folder."""

    returncode: int
    output: str
    workdir: Path
    records: list[dict[str, Any]] = field(default_factory=list)  # memtui's --json lines (memtui runs only)

    def files(self) -> dict[str, Path]:
        return {p.relative_to(self.workdir).as_posix(): p for p in sorted(self.workdir.rglob("*")) if p.is_file()}

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        found = [r["event"] for r in self.records if r.get("type") == "event"]
        return [e for e in found if type_ is None or e["type"] == type_]

    def not_applied(self) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        for event in self.events():
            for record in event.get("not_applied") or ():
                if record not in seen:
                    seen.append(record)
        return seen


def user_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a user's shell would give: this one without memtui's hook
    variables or the repository on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEMTUI_HOOK")}
    env.update(extra or {})
    return env


def start_alone(script: str, work: Path) -> tuple[subprocess.Popen[bytes], Path]:
    work.mkdir(parents=True)
    log = work.parent / f"{work.name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(SCRIPTS / script)], cwd=work, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, env=user_env())
    return proc, log


def start_memtui(script: str, work: Path, runs: Path, flags: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    work.mkdir(parents=True)
    env = user_env({"MEMTUI_RUNS_DIR": str(runs), "PYTHONPATH": str(REPO)})
    argv = [*MEMTUI, "run", "--headless", "--json", "--no-spare", *flags, "--", sys.executable, str(SCRIPTS / script)]
    return subprocess.Popen(argv, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish_alone(proc: subprocess.Popen[bytes], log: Path, work: Path) -> Outcome:
    proc.wait(timeout=TIMEOUT)
    return Outcome(proc.returncode, log.read_text(errors="replace"), work)


def finish_memtui(proc: subprocess.Popen[str], work: Path, runs: Path) -> Outcome:
    stdout, stderr = proc.communicate(timeout=TIMEOUT)
    records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    outcome = next((r for r in records if r.get("type") == "outcome"), None)
    assert outcome is not None, f"memtui gave no outcome (exit {proc.returncode}):\n{stdout[-3000:]}\n{stderr[-3000:]}"
    start = next(r for r in records if r.get("type") == "start")
    run_dir = Path(start["run_dir"])
    exit_file = json.loads((run_dir / "exit.json").read_text())
    output = (run_dir / "trainer.log").read_text(errors="replace")
    verdict = next(r for r in records if r.get("type") == "verdict")
    assert exit_file["returncode"] == verdict["exit_code"], (exit_file, verdict)  # memtui's JSON names it too
    return Outcome(exit_file["returncode"], output, work, records)


def run_both(script: str, tmp: Path, flags: tuple[str, ...] = ()) -> tuple[Outcome, Outcome]:
    """The script alone and under memtui, started together."""
    alone, log = start_alone(script, tmp / "alone")
    hooked = start_memtui(script, tmp / "memtui", tmp / "runs", flags)
    try:
        first = finish_alone(alone, log, tmp / "alone")
        second = finish_memtui(hooked, tmp / "memtui", tmp / "runs")
    finally:
        for proc in (alone, hooked):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return first, second


def run_memtui(script: str, tmp: Path, flags: tuple[str, ...] = ()) -> Outcome:
    proc = start_memtui(script, tmp / "memtui", tmp / "runs", flags)
    try:
        return finish_memtui(proc, tmp / "memtui", tmp / "runs")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _bar(line: str) -> str | None:
    """The last redraw of a Keras progress-bar line, or None for any other line."""
    if "━" not in line and "/Unknown" not in line:
        return None
    redraws = [part.strip() for part in BAR_REDRAW.split(line) if part.strip()]
    return redraws[-1] if redraws and BAR_STEP.match(redraws[-1]) else None


def normalised_output(text: str) -> collections.Counter[str]:
    """The output's lines as compared (see the module's docstring): of each run of
    progress-bar lines only the last, and no bar of unknown length."""
    kept: list[str] = []
    in_bar = False
    lines = (part for raw in text.split("\n") for part in TF_LOG_INSIDE.split(ANSI.sub("", raw)))
    for part in lines:
        line = part.replace("\r", "").rstrip()
        if not line.strip() or any(noise in line for noise in TIMING_LOG):
            continue
        bar = _bar(line)
        if bar is not None:
            if in_bar:
                kept.pop()  # a redraw that wall-clock timing decided: only the run's last counts
            kept.append("" if "/Unknown" in bar else bar)
            in_bar = True
            continue
        in_bar = False
        kept.append(line)
    return collections.Counter(NUMBER.sub("#", HEX.sub("0x#", _graph_nodes(line))) for line in kept if line)


def _graph_nodes(line: str) -> str:
    return GRAPH_NODE.sub("'<node>'", line) if TF_LOG.match(line) else line


def output_difference(alone: str, hooked: str) -> str:
    """'' when the two outputs hold the same lines; else the lines only one has."""
    a, b = normalised_output(alone), normalised_output(hooked)
    only_alone, only_hooked = a - b, b - a
    if not only_alone and not only_hooked:
        return ""
    return ("only alone:\n  " + "\n  ".join(sorted(only_alone.elements()))
            + "\nonly under memtui:\n  " + "\n  ".join(sorted(only_hooked.elements())))


def printed_metric_names(text: str) -> set[str]:
    """Metric names Keras printed for the script (`name: value` in its log lines)."""
    return {m.group(1) for m in METRIC.finditer(ANSI.sub("", text))}


def comparable(path: Path) -> Any:
    """What of a file two seeded runs must share: the bytes, except in a Keras
    `.keras` archive, whose metadata.json holds the save time (left out) and
    whose config.json names shared objects by their memory address
    (`shared_object_id`, made 0); every other member, the weights included,
    byte for byte."""
    if path.suffix == ".keras" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = {name: archive.read(name) for name in archive.namelist() if name != "metadata.json"}
        if "config.json" in members:
            members["config.json"] = SHARED_ID.sub(b'"shared_object_id": 0', members["config.json"])
        return members
    return path.read_bytes()
