"""The follower: memtui's end of one SSH connection to a worker's host (`--hosts`).

It runs for as long as the connection lasts and no longer: the worker belongs
to the keeper (tui/supervision/agentkeeper.py). It streams what the worker
appends to its events file and log (from the offsets memtui already has, so a
follower started after a dropped connection sends only what memtui missed),
rank 0's small files whole, a memory reading about once a second and, once
the keeper has written it, the worker's ending; it obeys memtui's lines on
stdin (`signal INT|TERM|KILL`, `file NAME TEXT`) and touches the keeper's
lease while it runs. Messages are JSON lines (see tui/supervision/agent.py).

Standard library only (psutil and NVML where present, for the readings).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainer.distributed import events_name, log_name
from trainer.runfiles import read_json_object
from tui.supervision.agentkeeper import END_FILE, LEASE_FILE, STATE_FILE, touch

STOP_FILE = "stop.at"  # trainer/group.py's GroupStop: rank 0 names the step every worker stops after
HELLO_FILE = "hook.json"  # trainer/hookspec.py: the script hook is in the process (the watch looks for it)
RELAYED_FILES = (STOP_FILE, HELLO_FILE)  # rank 0's, sent whole whenever they change
POLL = 0.1  # seconds between looks at the worker's files
MEMORY_EVERY = 1.0
SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "KILL": signal.SIGKILL}
STATE_WAIT = 30.0  # seconds for a keeper just started to name its worker


class _Out:
    """JSON lines on stdout, from two threads; a broken pipe means memtui is gone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.broken = threading.Event()

    def send(self, **message: Any) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        with self._lock:
            try:
                os.write(1, data)
            except OSError:
                self.broken.set()


class _Whole:
    """A small file, sent whole each time it changes (it may be replaced, not appended to)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: tuple[float, int] | None = None

    def read(self) -> str:
        try:
            stat = self.path.stat()
            if (stat.st_mtime, stat.st_size) == self.seen:
                return ""
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        self.seen = (stat.st_mtime, stat.st_size)
        return text


class _Tail:
    """What a file gained since the last look (the file may not exist yet), from `offset` on."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset

    def read(self) -> str:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return ""
        self.offset += len(data)
        return data.decode("utf-8", errors="replace")


def _memory(pid: int, nvml: Any) -> dict[str, Any]:
    """The worker's process tree's resident memory and its GPU memory on this host."""
    reading: dict[str, Any] = {"rss": None, "gpus": []}
    try:
        import psutil

        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        pids = {p.pid for p in procs}
        reading["rss"] = sum(p.memory_info().rss for p in procs if p.is_running())
        reading["host_total"] = psutil.virtual_memory().total
    except Exception:  # psutil missing, or the worker just ended: no reading this time
        return reading
    if nvml is not None:
        try:
            for device in nvml.read():
                own = sum(b or 0 for p, b in (device.processes or ()) if p in pids)
                reading["gpus"].append({"index": device.index, "name": device.name, "used": device.used_bytes,
                                        "total": device.total_bytes, "own": own})
        except Exception:
            pass
    return reading


def _open_nvml() -> Any:
    try:
        from tui.telemetry.nvml import NvmlReader

        reader = NvmlReader()
        reader.open()
        return reader if reader.status == "ok" else None
    except Exception:  # no NVML here (a CPU host): memory from psutil only
        return None


class StdinLines:
    """Lines from stdin read with os.read: a thread blocked in Python's buffered stdin
    holds its lock, and the interpreter then aborts at exit ("could not acquire lock")."""

    def __init__(self) -> None:
        self._rest = b""

    def __iter__(self) -> Iterator[bytes]:
        while True:
            while b"\n" in self._rest:
                line, self._rest = self._rest.split(b"\n", 1)
                yield line
            try:
                chunk = os.read(0, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                return
            self._rest += chunk


def follow(folder: Path, rank: int, offsets: dict[str, int], lines: Iterator[bytes] | None = None) -> int:
    """Stream the worker in `folder` until it has ended (0) or memtui's side is gone (0 too: the
    keeper goes on); 1 when there is no such worker here."""
    out = _Out()
    lines = iter(StdinLines()) if lines is None else lines
    state = _state(folder)
    if state is None:
        out.send(t="end", returncode=None, error=f"no worker in {folder} on {socket.gethostname()} (it ended, "
                                                 "and no one came for its ending in time)", gone=True)
        return 1
    pid = int(state["pid"])
    out.send(t="started", pid=pid, host=socket.gethostname(), folder=str(folder))
    gone = threading.Event()
    threading.Thread(target=_steer, args=(lines, pid, folder, gone), daemon=True).start()
    tails = {"events": _Tail(folder / events_name(rank), offsets.get("events", 0)),
             "log": _Tail(folder / log_name(rank), offsets.get("log", 0))}
    relayed = {name: _Whole(folder / name) for name in RELAYED_FILES} if rank == 0 else {}
    nvml = _open_nvml()
    next_memory = 0.0
    while not (gone.is_set() or out.broken.is_set()):
        touch(folder / LEASE_FILE)
        ended = read_json_object(folder / END_FILE)
        for name, tail in tails.items():
            if text := tail.read():
                out.send(t="out", file=name, text=text, offset=tail.offset)
        for name, whole in relayed.items():
            if text := whole.read():
                out.send(t="file", name=name, text=text)
        if ended is not None:  # read before the tails: everything the worker wrote was sent above
            out.send(t="end", returncode=ended.get("returncode"), error=ended.get("error"),
                     lease_ran_out=ended.get("lease_ran_out", False))
            if not out.broken.is_set():
                shutil.rmtree(folder, ignore_errors=True)
            return 0
        if time.monotonic() >= next_memory:
            next_memory = time.monotonic() + MEMORY_EVERY
            out.send(t="mem", **_memory(pid, nvml))
        time.sleep(POLL)
    return 0  # the connection is gone; the keeper keeps the worker for the lease


def _state(folder: Path) -> dict[str, Any] | None:
    deadline = time.monotonic() + STATE_WAIT
    while time.monotonic() < deadline:
        if (state := read_json_object(folder / STATE_FILE)) is not None:
            return state
        if (ended := read_json_object(folder / END_FILE)) is not None:  # it could not even start
            return {"pid": 0, **ended}
        if not folder.exists():
            return None
        time.sleep(POLL)
    return None


def _steer(lines: Iterator[bytes], pid: int, folder: Path, gone: threading.Event) -> None:
    """Obey memtui's lines on stdin; EOF: this connection is over."""
    for raw in lines:
        words = raw.decode("utf-8", errors="replace").split(" ", 2)
        if words[0] == "signal" and len(words) > 1 and words[1] in SIGNALS and pid > 0:
            try:
                os.killpg(pid, SIGNALS[words[1]])  # the worker leads a process group of its own
            except OSError:
                pass
        elif words[0] == "file" and len(words) == 3 and words[1] in RELAYED_FILES:
            tmp = folder / f".{words[1]}.tmp"
            tmp.write_text(words[2].replace("\\n", "\n"), encoding="utf-8")
            os.replace(tmp, folder / words[1])
    gone.set()
