"""`python -m tui.supervision.agent`: memtui on a worker's host (`--hosts`).

memtui reaches each host over the SSH the user already has and runs this
module there, in the same folder, from the same memtui install. One
connection per worker carries everything, as JSON lines on stdout; there is
no second port or protocol.

- `agent hello` prints one line: this memtui's version and protocol, the
  host's name, whether the folder exists, its GPUs and a free TCP port (rank
  0's host gives the coordinator's), then exits. memtui asks every host
  before anything starts.
- `agent worker --run-dir RUN --rank R --local-rank L --world W --address A
  --lease S` reads the job as one JSON line on stdin (`argv`, `cwd`, `env`,
  `files`), makes the worker's folder on this host, starts the keeper
  (tui/supervision/agentkeeper.py), which runs the worker detached so that it
  outlives this connection, then follows it (tui/supervision/agentfollow.py).
  RUN is rewritten to the worker's folder in the argv, the environment and
  the files: on a shared home the local run folder is the same path, and the
  worker's files must not collide with the copies memtui writes there.
- `agent follow --run-dir RUN --rank R --events-from N --log-from M` follows
  the same worker again after a dropped connection, from the byte offsets
  memtui already has.
- `agent keep --folder F --lease S` is the keeper itself.

Messages: `started` (pid, host, folder); `out` (file "events" or "log", the
text appended, the file's offset after it); `file` (rank 0's `stop.at`, which
memtui passes on to the other agents, and `hook.json`, which it keeps);
`mem` (psutil RSS of the worker's tree, NVML per-process GPU memory, the
host's RAM); `end` (the worker's exit status). Lines on stdin: `signal
INT|TERM|KILL` (to the worker's process group), `file NAME TEXT`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.distributed import VISIBLE_GPUS, free_port, gpu_ids, log_name, worker_env
from trainer.runfiles import write_json_atomic
from tui.supervision.agentfollow import StdinLines, follow
from tui.supervision.agentkeeper import JOB_FILE, LEASE_FILE, keep, touch
from tui.supervision.agentkeeper import start as start_keeper

PROTOCOL = 2


def _version() -> str:
    from tui import __version__

    return __version__


def hello(folder: str) -> dict[str, Any]:
    return {"t": "hello", "agent": PROTOCOL, "memtui": _version(), "host": socket.gethostname(),
            "python": sys.executable, "folder": os.path.isdir(folder), "gpus": gpu_ids(os.environ),
            "port": free_port("")}


def folder_of(run_dir: str, rank: int) -> Path:
    """The worker's folder on this host: found again by a follower after a dropped connection."""
    return Path(tempfile.gettempdir()) / f"memtui-agent-{os.getuid()}" / f"{Path(run_dir).name}.rank{rank}"


def _rewrite(value: str, run_dir: str, folder: str) -> str:
    return value.replace(run_dir, folder)


def worker(args: Job) -> int:
    lines = iter(StdinLines())
    folder = folder_of(args.run_dir, args.rank)
    try:
        job = json.loads(next(lines, b"") or b"{}")
        argv = [str(a) for a in job["argv"]]
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        print(json.dumps({"t": "end", "returncode": None, "error": f"the agent cannot take the job ({exc})"}),
              flush=True)
        return 2
    run_dir, private = args.run_dir, str(folder)
    for name, text in (job.get("files") or {}).items():
        (folder / Path(name).name).write_text(_rewrite(str(text), run_dir, private), encoding="utf-8")
    env = {**os.environ, **{k: _rewrite(str(v), run_dir, private) for k, v in (job.get("env") or {}).items()}}
    gpus = gpu_ids(os.environ)
    env.update(worker_env(args.rank, args.world, args.address, gpus))
    if gpus:
        env[VISIBLE_GPUS] = gpus[args.local_rank % len(gpus)]  # this host's GPUs, by the rank's place on it
    write_json_atomic(folder / JOB_FILE, {"argv": [_rewrite(a, run_dir, private) for a in argv], "cwd": job.get("cwd"),
                                   "env": env, "log": log_name(args.rank)})
    touch(folder / LEASE_FILE)
    start_keeper(folder, args.lease)
    return follow(folder, args.rank, {}, lines)


@dataclass(frozen=True)
class Job:
    """A worker's place, from the command line memtui wrote (tui/supervision/remote.py)."""

    run_dir: str
    rank: int
    local_rank: int
    world: int
    address: str
    lease: float


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
                              int(options["world"]), options["address"], float(options["lease"])))
        if mode == "follow":
            offsets = {"events": int(options.get("events_from", 0)), "log": int(options.get("log_from", 0))}
            rank = int(options["rank"])
            return follow(folder_of(options["run_dir"], rank), rank, offsets)
        if mode == "keep":
            return keep(Path(options["folder"]), float(options["lease"]))
        raise ValueError("the first word must be hello, worker, follow or keep")
    except (ValueError, KeyError) as exc:
        print(f"memtui agent: {exc} (memtui starts the agent itself, over SSH, for --hosts)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
