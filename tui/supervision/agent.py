"""`python -m tui.supervision.agent`: memtui's end of the SSH connection to a worker's host (`--hosts`).

memtui reaches each host over the SSH the user already has and runs this
module there, in the same folder, from the same memtui install. One
connection carries everything, as JSON lines on the agent's stdout; there is
no second port or protocol.

`agent hello` prints one line: this memtui's version, the host's name, whether
the folder exists, its GPUs and a free TCP port (rank 0's host gives the
coordinator's), then exits. memtui asks every host before anything starts.

`agent worker --run-dir RUN --rank R --local-rank L --world W --address A`
reads the job as one JSON line on stdin (`argv`, `cwd`, `env`, `files`), runs it
as rank R in a private folder on this host (RUN rewritten to it: on a shared
home the local run folder is the same path, and the worker's files must not
collide with the copies memtui writes there), and sends back:

- `{"t": "started", "pid", "host", "folder"}` once the worker runs;
- `{"t": "out", "file": "events"|"log", "text"}`: what the worker appended to its
  events file and its log, as it appears;
- `{"t": "file", "name", "text"}`: rank 0's small files, whole, when they change:
  `stop.at` (the group-stop step, which memtui passes on to the other hosts'
  agents) and `hook.json` (the script hook's hello, which memtui keeps in the
  run folder as a local run's);
- `{"t": "mem", "rss", "gpus"}` about once a second: the worker's resident
  memory (psutil) and its memory on this host's GPUs (NVML);
- `{"t": "end", "returncode"}`: how the worker ended (Popen's code).

Further lines on stdin steer it: `signal INT|TERM|KILL` (to the worker's
process group), `file NAME TEXT` (written into the private folder). EOF on
stdin, or a broken stdout, means memtui's side is gone (its reaper was killed,
the connection dropped): the worker is stopped (SIGTERM, then SIGKILL), so no
orphan keeps holding a GPU, and the agent exits.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.distributed import VISIBLE_GPUS, events_name, free_port, gpu_ids, log_name, worker_env

PROTOCOL = 1
STOP_FILE = "stop.at"  # trainer/group.py's GroupStop: rank 0 names the step every worker stops after
HELLO_FILE = "hook.json"  # trainer/hookspec.py: the script hook is in the process (the watch looks for it)
RELAYED_FILES = (STOP_FILE, HELLO_FILE)  # rank 0's, sent whole whenever they change
POLL = 0.1  # seconds between looks at the worker's files
MEMORY_EVERY = 1.0
TERM_GRACE = 2.0
SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "KILL": signal.SIGKILL}


def _version() -> str:
    from tui import __version__

    return __version__


def hello(folder: str) -> dict[str, Any]:
    return {"t": "hello", "agent": PROTOCOL, "memtui": _version(), "host": socket.gethostname(),
            "python": sys.executable, "folder": os.path.isdir(folder), "gpus": gpu_ids(os.environ),
            "port": free_port("")}


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
    """What a file gained since the last look (the file may not exist yet)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read(self) -> str:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return ""
        self.offset += len(data)
        return data.decode("utf-8", errors="replace")


def _rewrite(value: str, run_dir: str, folder: str) -> str:
    return value.replace(run_dir, folder)


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


class _Lines:
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


def worker(args: Job) -> int:
    out = _Out()
    lines = iter(_Lines())
    try:
        job = json.loads(next(lines, b"") or b"{}")
        argv = [str(a) for a in job["argv"]]
    except (ValueError, KeyError, TypeError) as exc:
        out.send(t="end", returncode=None, error=f"the agent got no job it could read ({exc})")
        return 2
    folder = Path(tempfile.mkdtemp(prefix=f"memtui-{Path(args.run_dir).name}-rank{args.rank}-"))
    try:
        return _run(args, job, argv, folder, out, lines)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(args: Job, job: dict[str, Any], argv: list[str], folder: Path, out: _Out,
         lines: Iterator[bytes]) -> int:
    run_dir, private = args.run_dir, str(folder)
    for name, text in (job.get("files") or {}).items():
        (folder / Path(name).name).write_text(_rewrite(str(text), run_dir, private), encoding="utf-8")
    env = {**os.environ, **{k: _rewrite(str(v), run_dir, private) for k, v in (job.get("env") or {}).items()}}
    gpus = gpu_ids(os.environ)
    env.update(worker_env(args.rank, args.world, args.address, gpus))
    if gpus:
        env[VISIBLE_GPUS] = gpus[args.local_rank % len(gpus)]  # this host's GPUs, by the rank's place on it
    log_path = folder / log_name(args.rank)
    with open(log_path, "ab", buffering=0) as log:
        try:
            words = [_rewrite(a, run_dir, private) for a in argv]
            child = subprocess.Popen([*words], cwd=job.get("cwd") or None,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        except OSError as exc:
            out.send(t="end", returncode=None, error=f"cannot start {argv[0]} on {socket.gethostname()}: {exc}")
            return 1
    out.send(t="started", pid=child.pid, host=socket.gethostname(), folder=private)
    gone = threading.Event()
    threading.Thread(target=_steer, args=(lines, child, folder, gone), daemon=True).start()
    tails = {"events": _Tail(folder / events_name(args.rank)), "log": _Tail(log_path)}
    relayed = {name: _Whole(folder / name) for name in RELAYED_FILES} if args.rank == 0 else {}
    nvml = _open_nvml()
    next_memory = 0.0
    stopping_since: float | None = None
    while True:
        code = child.poll()
        for name, tail in tails.items():
            if text := tail.read():
                out.send(t="out", file=name, text=text)
        for name, tail in relayed.items():
            if text := tail.read():
                out.send(t="file", name=name, text=text)
        if code is not None:
            out.send(t="end", returncode=code)
            return 0
        if time.monotonic() >= next_memory:
            next_memory = time.monotonic() + MEMORY_EVERY
            out.send(t="mem", **_memory(child.pid, nvml))
        if (gone.is_set() or out.broken.is_set()) and stopping_since is None:
            stopping_since = time.monotonic()
            _signal(child, signal.SIGTERM)
        if stopping_since is not None and time.monotonic() - stopping_since > TERM_GRACE:
            _signal(child, signal.SIGKILL)
        time.sleep(POLL)


def _steer(lines: Iterator[bytes], child: subprocess.Popen[bytes], folder: Path, gone: threading.Event) -> None:
    """Obey memtui's lines on stdin; EOF: memtui's side is gone."""
    for raw in lines:
        words = raw.decode("utf-8", errors="replace").split(" ", 2)
        if words[0] == "signal" and len(words) > 1 and words[1] in SIGNALS:
            _signal(child, SIGNALS[words[1]])
        elif words[0] == "file" and len(words) == 3 and words[1] in RELAYED_FILES:
            tmp = folder / f".{words[1]}.tmp"
            tmp.write_text(words[2].replace("\\n", "\n"), encoding="utf-8")
            os.replace(tmp, folder / words[1])
    gone.set()


def _signal(child: subprocess.Popen[bytes], signum: int) -> None:
    if child.poll() is None:
        try:
            os.killpg(child.pid, signum)
        except OSError:
            pass


@dataclass(frozen=True)
class Job:
    """A worker's place, from the command line memtui wrote (tui/supervision/remote.py)."""

    run_dir: str
    rank: int
    local_rank: int
    world: int
    address: str


def _options(words: list[str]) -> dict[str, str]:
    if len(words) % 2 or not all(w.startswith("--") for w in words[::2]):
        raise ValueError(f"options come as --name value pairs, got {' '.join(words)!r}")
    return {k[2:].replace("-", "_"): v for k, v in zip(words[::2], words[1::2], strict=True)}


def main(argv: list[str] | None = None) -> int:
    """Not a command for people: memtui writes these lines, so a wrong one is one line and exit 2."""
    words = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the session's end is EOF on stdin, handled above
    try:
        mode, options = (words[0], _options(words[1:])) if words else ("", {})
        if mode == "hello":
            print(json.dumps(hello(options.get("folder", "."))), flush=True)
            return 0
        if mode == "worker":
            return worker(Job(options["run_dir"], int(options["rank"]), int(options["local_rank"]),
                              int(options["world"]), options["address"]))
        raise ValueError("the first word must be hello or worker")
    except (ValueError, KeyError) as exc:
        print(f"memtui agent: {exc} (memtui starts the agent itself, over SSH, for --hosts)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
