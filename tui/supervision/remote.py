"""memtui's side of a worker on another host (`--hosts`): SSH, the agent, the files that come back.

Every host is reached with the user's own SSH: `ssh` (or `MEMTUI_SSH`, e.g.
`MEMTUI_SSH="ssh -p 2222 -i ~/.ssh/gpu"`, the way git reads GIT_SSH_COMMAND)
with `BatchMode=yes`: keys and agents only, never a password prompt, and
nothing is kept. On the host, memtui runs in the same folder from the same
install (the same interpreter path: a virtualenv on a shared or mirrored home),
as `python -m tui.supervision.agent` (tui/supervision/agent.py).

`check_hosts` asks each host before anything starts and says, one line per
host, what stops it: unreachable, no memtui, another memtui version, no such
folder. `RemoteWorker` is one rank over one connection: it looks like the
Popen of a local worker to the group's reaper (poll, send_signal, wait, pid)
and writes what the agent sends into the local run folder under the rank's
usual names, so every reader of a run reads a remote worker as a local one.

Standard library only, like the reaper that uses it.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.distributed import WORKER_ENV, events_name, log_name
from trainer.runfiles import write_json_atomic

SSH_ENV = "MEMTUI_SSH"
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5",
               "-o", "ServerAliveCountMax=3", "-T")
HELLO_TIMEOUT = 30.0
LOST = 255  # ssh's own exit status: the connection failed or dropped
LEASE_ENV = "MEMTUI_AGENT_LEASE"
DEFAULT_LEASE = 60.0  # seconds a remote worker keeps running with no connection from memtui
MIN_LEASE = 3.0
RECONNECT_SHARE = 0.6  # of the lease, spent trying to connect again (the rest is the keeper's margin)
RECONNECT_PAUSE = 1.0  # seconds between tries
KEPT_FILE = "hook.json"  # rank 0's hook hello, written into the local run folder (the others are passed on)
# The variables a remote worker gets from here: memtui's and the frameworks' own
# (its host keeps its PATH, HOME and GPUs); the group's are set by the agent.
FORWARDED_PREFIXES = ("MEMTUI_", "KERAS_", "JAX_", "XLA_", "TF_", "PYTHON")


def memory_name(rank: int) -> str:
    """The latest memory reading of a remote rank, in the local run folder."""
    return f"hostmem.rank{rank}.json"


def ssh_argv(destination: str, remote_command: str) -> list[str]:
    base = shlex.split(os.environ.get(SSH_ENV) or "ssh")
    return [*base, *SSH_OPTIONS, destination, remote_command]


def agent_command(folder: str, *args: str) -> str:
    """The shell line the host runs: into the same folder, the same interpreter, the agent.

    SSH hands the remote side one command line for the user's login shell; it
    cannot take an argument list. So every word is quoted for that shell here,
    and nothing the user gave (a folder, a run path) is ever read as shell code."""
    words = " ".join(shlex.quote(a) for a in args)
    return f"cd {shlex.quote(folder)} && exec {shlex.quote(sys.executable)} -m tui.supervision.agent {words}"


@dataclass(frozen=True)
class Hello:
    destination: str
    info: dict[str, Any] | None  # the agent's hello; None when it could not be had
    problem: str | None  # one line: what stops this host


def hello(destination: str, folder: str, version: str) -> Hello:
    """Ask one host's agent; the problem, in words, when there is one."""
    try:
        argv = ssh_argv(destination, agent_command(folder, "hello", "--folder", folder))
        done = subprocess.run([*argv],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=HELLO_TIMEOUT)
    except FileNotFoundError:
        return Hello(destination, None, f"host {destination}: no ssh client here ({os.environ.get(SSH_ENV) or 'ssh'}"
                                        "); install openssh-client")
    except ValueError as exc:  # shlex could not split MEMTUI_SSH
        return Hello(destination, None, f"{SSH_ENV}={os.environ.get(SSH_ENV)!r} cannot be read as a command ({exc}); "
                                        f"write it as a shell line, e.g. {SSH_ENV}=\"ssh -p 2222 -i ~/.ssh/gpu\"")
    except OSError as exc:  # found but not runnable (a folder, no execute permission)
        return Hello(destination, None, f"host {destination}: cannot run the ssh command "
                                        f"{os.environ.get(SSH_ENV) or 'ssh'!r} ({exc.strerror}); check {SSH_ENV}")
    except subprocess.TimeoutExpired:
        return Hello(destination, None, f"host {destination}: no answer over SSH within {HELLO_TIMEOUT:.0f} s")
    said = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
    last = said[-1] if said else ""
    info = _json_line(done.stdout)
    if done.returncode == LOST:
        ssh = os.environ.get(SSH_ENV) or "ssh"
        return Hello(destination, None, f"host {destination}: cannot be reached over SSH ({last or 'ssh failed'}); "
                                        f"check that `{ssh} -o BatchMode=yes {destination} true` works")
    if info is None:
        if "No such file or directory" in last and "cd" in last:
            why = f"folder {folder} does not exist there (workers run in the same folder)"
        elif done.returncode in (126, 127) or "No module named" in last:
            why = (f"no memtui at {sys.executable} (install memtui there at the same path, "
                   "e.g. the same virtualenv on a shared home)")
        else:
            why = f"the agent did not answer ({last or f'exit {done.returncode}'})"
        return Hello(destination, None, f"host {destination}: {why}")
    if info.get("memtui") != version or info.get("agent") != _protocol():
        return Hello(destination, info, f"host {destination} runs memtui {info.get('memtui')}, this is {version}: "
                                        "install the same version on every host")
    if not info.get("folder"):
        return Hello(destination, info, f"host {destination}: folder {folder} does not exist there "
                                        "(workers run in the same folder)")
    return Hello(destination, info, None)


def check_hosts(hosts: tuple[str, ...], folder: str) -> dict[str, Hello]:
    """Every distinct host asked at once."""
    from tui import __version__

    distinct = list(dict.fromkeys(hosts))
    with ThreadPoolExecutor(max_workers=min(16, len(distinct))) as pool:
        answers = list(pool.map(lambda h: hello(h, folder, __version__), distinct))
    return {a.destination: a for a in answers}


def forwarded_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(FORWARDED_PREFIXES) and k not in WORKER_ENV}


def lease_seconds(environ: Mapping[str, str] | None = None) -> float:
    """How long a remote worker keeps running with no connection from memtui (MEMTUI_AGENT_LEASE)."""
    raw = (os.environ if environ is None else environ).get(LEASE_ENV, "")
    try:
        return max(MIN_LEASE, float(raw)) if raw else DEFAULT_LEASE
    except ValueError:
        return DEFAULT_LEASE


class RemoteWorker:
    """One rank on another host, driven over SSH; Popen-like for the reaper.

    The worker belongs to the keeper on its host, not to the connection: when
    a connection drops, this reconnects (`agent follow`, from the byte offsets
    already written here) for up to RECONNECT_SHARE of the lease, and the run
    goes on. Only when no connection could be made again is the worker's
    ending "the connection was lost" (and its keeper stops it once the lease
    runs out, so no orphan keeps a GPU)."""

    def __init__(self, run_dir: Path, rank: int, local_rank: int, world: int, address: str, destination: str,
                 job: dict[str, Any], relay: Callable[[int, str, str], None]) -> None:
        self.run_dir, self.rank, self.destination = run_dir, rank, destination
        self.folder = job.get("cwd") or os.getcwd()
        self.returncode: int | None = None
        self.remote_pid: int | None = None
        self.remote_host: str | None = None
        self.lost_connection = False
        self.reconnects = 0
        self.error: str | None = None
        self.lease = lease_seconds()
        self.offsets = {"events": 0, "log": 0}  # bytes of the worker's files already written here
        self._end: int | None = None
        self._ended = False
        self._given_up = False
        self._unsent: str | None = None  # a signal that found no connection, sent again on the next one
        self._relay = relay
        self._lock = threading.Lock()
        self._log = open(run_dir / log_name(rank), "ab", buffering=0)  # noqa: SIM115 - closed by the reader
        self._events = open(run_dir / events_name(rank), "ab", buffering=0)  # noqa: SIM115
        self.popen = self._connect("worker", "--run-dir", str(run_dir), "--rank", str(rank), "--local-rank",
                                   str(local_rank), "--world", str(world), "--address", address,
                                   "--lease", str(self.lease))
        self._write(json.dumps(job) + "\n")
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._follow, name=f"rank{rank}@{destination}", daemon=True)
        self._reader.start()

    def _connect(self, *args: str) -> subprocess.Popen[bytes]:
        # A session of its own: the stop signals memtui sends the run's process group
        # reach the workers through the agent (send_signal), not by killing ssh.
        argv = ssh_argv(self.destination, agent_command(self.folder, *args))
        return subprocess.Popen([*argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _write(self, line: str) -> bool:
        with self._lock:
            try:
                assert self.popen.stdin is not None
                self.popen.stdin.write(line.encode())
                self.popen.stdin.flush()
                return True
            except (OSError, ValueError):
                return False  # the connection is gone; the reader reconnects

    def _follow(self) -> None:
        try:
            while True:
                assert self.popen.stdout is not None
                for raw in self.popen.stdout:
                    self._take(_json_line(raw))
                self.popen.wait()
                if self._ended or self._given_up or not self._reconnect():
                    break
        finally:
            self._log.close()
            self._events.close()
            if self._ended and isinstance(self._end, int):
                self.returncode = self._end
            else:  # no ending from the agent: the connection could not be had again
                self.lost_connection = not self._ended
                self.returncode = LOST if self.lost_connection else 1
            self._done.set()

    def _reconnect(self) -> bool:
        """A new connection to the same worker, or False when none could be made within the window."""
        self._log.write(f"memtui: the SSH connection to {self.destination} ended; reconnecting\n".encode())
        deadline = time.monotonic() + self.lease * RECONNECT_SHARE
        while time.monotonic() < deadline and not self._given_up:
            time.sleep(RECONNECT_PAUSE)
            popen = self._connect("follow", "--run-dir", str(self.run_dir), "--rank", str(self.rank),
                                  "--events-from", str(self.offsets["events"]), "--log-from", str(self.offsets["log"]))
            assert popen.stdout is not None
            first = _json_line(popen.stdout.readline())
            if first is not None and first.get("t") == "started":
                with self._lock:
                    self.popen = popen
                self.reconnects += 1
                self._take(first)
                if self._unsent is not None and self._write(f"signal {self._unsent}\n"):
                    self._unsent = None
                return True
            popen.wait()
            if first is not None and first.get("gone"):
                return False  # the worker's folder is gone from its host: nothing to follow
        return False

    def _take(self, message: dict[str, Any] | None) -> None:
        if message is None:
            return
        kind = message.get("t")
        if kind == "out":
            name = "events" if message.get("file") == "events" else "log"
            (self._events if name == "events" else self._log).write(str(message.get("text", "")).encode())
            if isinstance(message.get("offset"), int):
                self.offsets[name] = message["offset"]
        elif kind == "mem":
            write_json_atomic(self.run_dir / memory_name(self.rank),
                              {**message, "rank": self.rank, "host": self.remote_host or self.destination,
                               "pid": self.remote_pid})
        elif kind == "file":
            self._relay(self.rank, str(message.get("name")), str(message.get("text", "")))
        elif kind == "started":
            self.remote_pid, self.remote_host = message.get("pid"), message.get("host")
        elif kind == "end":
            self._end, self._ended = message.get("returncode"), True
            if message.get("error"):
                self.error = str(message["error"])
                self._log.write(f"memtui agent on {self.destination}: {self.error}\n".encode())

    def poll(self) -> int | None:
        return self.returncode if self._done.is_set() else None

    def wait(self) -> int:
        self._done.wait()
        return LOST if self.returncode is None else self.returncode

    def send_signal(self, signum: int) -> None:
        name = {signal.SIGINT: "INT", signal.SIGTERM: "TERM", signal.SIGKILL: "KILL"}.get(signum)
        if name is not None and not self._write(f"signal {name}\n"):
            self._unsent = name

    def give_up(self) -> None:
        """No more reconnecting: cut the connection (its keeper stops the worker when the lease runs out)."""
        self._given_up = True
        if self.popen.poll() is None:
            self.popen.kill()

    def pass_file(self, name: str, text: str) -> None:
        self._write(f"file {name} {text.replace(chr(10), chr(92) + 'n')}\n")

    def record(self) -> dict[str, Any]:
        return {"host": self.destination, "remote_host": self.remote_host, "remote_pid": self.remote_pid,
                "lost_connection": self.lost_connection, "reconnects": self.reconnects,
                **({"error": self.error} if self.error else {})}


def _json_line(raw: bytes) -> dict[str, Any] | None:
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _protocol() -> int:
    from tui.supervision.agent import PROTOCOL

    return PROTOCOL
