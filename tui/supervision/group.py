"""The reaper of a group: N workers of one run (`--workers N`), started, watched and stopped together.

The reaper (tui/supervision/reaper.py) is the parent of every worker, so it
learns each exit the moment it happens, even when memtui has died or
detached. When one worker ends abnormally the others are stuck: they wait in
a collective for it, and JAX's heartbeat ends them only about 70 s later
(docs/DISTRIBUTED.md). So the reaper stops them at once: SIGTERM, then
SIGKILL after TERM_GRACE, and records who failed first and what each worker
did in RUN/exit.json (`workers`, `failed_rank`). A stop memtui asked for
(SIGINT/SIGTERM to the group) is not a failure: the workers end as they are
told, and the supervisor's own escalation ends the stuck ones.

Which worker to blame is decided once all have ended, on evidence, not on
who exited first: a worker with its own `oom` event, else one that did not
just report a lost peer ("Gloo all-reduce failed ... Connection closed by
peer", a heartbeat timeout), else the first to end. A survivor's abort is
then never the cause.

Standard library only, like the reaper.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.distributed import events_name, free_port, gpu_ids, log_name, worker_env
from trainer.hosts import HostsError, coordinator_host, local_ranks, parse_hosts
from trainer.runfiles import CONFIG_FILE, EXIT_FILE, META_FILE, PID_FILE, write_json_atomic

WORKERS_FILE = "workers.json"  # the reaper: each worker's rank, pid and files
TERM_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for the survivors of a failure
POLL = 0.02  # seconds between looks at the workers (a waitpid each: cheap)
HUNG_CONNECTION = 5.0  # seconds after the SIGKILL before an unanswering SSH connection to a worker is cut
# What a survivor says when a peer died under it (JAX 0.10 / Gloo), checked in its log and error event.
PEER_LOSS = (
    "Gloo all-reduce failed", "Connection closed by peer", "Connection reset by peer", "heartbeat timeout",
    "another task died", "detected fatal errors", "Barrier failed", "coordination service",
)


@dataclass
class Member:
    rank: int
    popen: Any  # a local worker's subprocess.Popen, or a RemoteWorker (tui/supervision/remote.py)
    log: str
    events: str
    returncode: int | None = None
    ended: float | None = None
    stopped_by_group: str | None = None  # the signal the reaper sent it after another's failure

    def record(self) -> dict[str, Any]:
        remote = self.popen.record() if hasattr(self.popen, "record") else {}
        return {"rank": self.rank, "pid": self.popen.pid, "returncode": self.returncode,
                "signal": _signal_name(self.returncode), "ended": self.ended, "log": self.log,
                "events": self.events, "stopped_by_group": self.stopped_by_group, **remote}


@dataclass
class _Stop:
    asked: bool = False  # memtui asked the group to stop (a signal to the reaper's group)
    names: list[str] = field(default_factory=list)


_stop = _Stop()


def _asked(signum: int, frame: object) -> None:
    _stop.asked = True
    _stop.names.append(signal.Signals(signum).name)


def workers_of(run_dir: Path) -> int:
    """The run's worker count, from its config.json (1 when absent or unreadable)."""
    try:
        workers = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8")).get("workers", 1)
    except (OSError, ValueError, AttributeError):
        return 1
    return workers if isinstance(workers, int) and workers > 1 else 1


def hosts_of(run_dir: Path) -> tuple[str, ...]:
    """The run's hosts, one per rank, from its config.json (empty: all workers on this host)."""
    try:
        spec = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8")).get("hosts")
        return parse_hosts(spec) if isinstance(spec, str) else ()
    except (OSError, ValueError, AttributeError, HostsError):
        return ()


def reap_group(run_dir: Path, argv: list[str], cwd: str | None, env: dict[str, str] | None, name: str,
               workers: int) -> int:
    """Start `workers` copies of `argv`, one per rank; wait for all; write exit.json."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _asked)
    if hosts := hosts_of(run_dir):
        return _reap_remote(run_dir, argv, cwd, env, hosts)
    base = dict(os.environ if env is None else env)
    address = f"127.0.0.1:{free_port()}"
    gpus = gpu_ids(base)
    members: list[Member] = []
    for rank in range(workers):
        log_path = run_dir / log_name(rank)
        with open(log_path, "ab", buffering=0) as log:
            try:
                popen = subprocess.Popen([*argv], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=cwd, env={**base, **worker_env(rank, workers, address, gpus)})
            except OSError as exc:
                log.write(f"memtui reaper: cannot start worker {rank} ({name}): {exc}\n".encode())
                _kill_all(members, signal.SIGKILL, "SIGKILL")
                _wait_all(members)
                write_json_atomic(run_dir / EXIT_FILE, _exit(members, workers, None, None,
                                                            f"cannot start worker {rank} ({name}): {exc}"))
                return 1
        members.append(Member(rank, popen, log_name(rank), events_name(rank)))
    return _reap_members(run_dir, members, workers, address)


def _reap_members(run_dir: Path, members: list[Member], workers: int, address: str) -> int:
    write_json_atomic(run_dir / WORKERS_FILE, {"world_size": workers, "coordinator": address,
                                               "workers": [m.record() for m in members]})
    _write_pid(run_dir, members[0].popen.pid)
    failed_at = _watch(members)
    blamed = blame(run_dir, members) if failed_at is not None else None
    write_json_atomic(run_dir / WORKERS_FILE, {"world_size": workers, "coordinator": address,
                                               "workers": [m.record() for m in members]})
    write_json_atomic(run_dir / EXIT_FILE, _exit(members, workers, blamed, failed_at))
    return 0


def _reap_remote(run_dir: Path, argv: list[str], cwd: str | None, env: dict[str, str] | None,
                 hosts: tuple[str, ...]) -> int:
    """The group over SSH (--hosts): each rank through an agent on its host (tui/supervision/remote.py)."""
    from tui.supervision import remote

    folder = cwd or os.getcwd()
    first = remote.hello(hosts[0], folder, _version())
    if first.problem is not None or first.info is None:
        why = first.problem or f"host {hosts[0]}: no answer"
        write_json_atomic(run_dir / EXIT_FILE, _exit([], len(hosts), None, None, why))
        return 1
    address = f"{coordinator_host(hosts[0])}:{first.info['port']}"
    files = {n: (run_dir / n).read_text(encoding="utf-8") for n in (CONFIG_FILE, META_FILE) if (run_dir / n).exists()}
    job = {"argv": argv, "cwd": folder, "env": remote.forwarded_env(os.environ if env is None else env),
           "files": files}
    members: list[Member] = []

    def relay(sender: int, file: str, text: str) -> None:
        """Rank 0's stop step goes on to the other workers; its hook's hello is kept here."""
        if file == remote.KEPT_FILE:
            (run_dir / f".{file}.tmp").write_text(text, encoding="utf-8")
            os.replace(run_dir / f".{file}.tmp", run_dir / file)
            return
        for m in members:
            if m.rank != sender:
                m.popen.pass_file(file, text)

    for rank, (host, local) in enumerate(zip(hosts, local_ranks(hosts), strict=True)):
        worker = remote.RemoteWorker(run_dir, rank, local, len(hosts), address, host, job, relay)
        members.append(Member(rank, worker, log_name(rank), events_name(rank)))
    return _reap_members(run_dir, members, len(hosts), address)


def _version() -> str:
    from tui import __version__

    return __version__


def _watch(members: list[Member]) -> float | None:
    """Wait for every worker. The first abnormal ending (no stop asked) stops the
    rest; returns when that happened (None: no worker failed)."""
    failed_at: float | None = None
    killed_at: float | None = None
    passed_on = 0  # stop signals memtui sent the group, passed on to workers on other hosts
    while any(m.returncode is None for m in members):
        if len(_stop.names) > passed_on:
            for signame in _stop.names[passed_on:]:
                _pass_on(members, signal.Signals[signame])
            passed_on = len(_stop.names)
        for m in members:
            if m.returncode is None and (code := m.popen.poll()) is not None:
                m.returncode, m.ended = code, round(time.time(), 6)
                if code != 0 and failed_at is None and not _stop.asked:
                    failed_at = time.monotonic()
                    _kill_all(members, signal.SIGTERM, "SIGTERM")
        if failed_at is not None and killed_at is None and time.monotonic() - failed_at >= TERM_GRACE:
            killed_at = time.monotonic()
            _kill_all(members, signal.SIGKILL, "SIGKILL")
        if killed_at is not None and time.monotonic() - killed_at >= HUNG_CONNECTION:
            _drop_connections(members)  # an agent that did not answer the kill: its EOF stops the worker
        time.sleep(POLL)
    return failed_at


def _pass_on(members: list[Member], signum: signal.Signals) -> None:
    """A local worker got memtui's signal with the group; a remote one gets it through its agent."""
    for m in members:
        if m.returncode is None and hasattr(m.popen, "pass_file"):
            m.popen.send_signal(signum)


def _drop_connections(members: list[Member]) -> None:
    for m in members:
        if m.returncode is None and hasattr(m.popen, "give_up"):
            m.popen.give_up()


def _kill_all(members: list[Member], signum: signal.Signals, name: str) -> None:
    for m in members:
        if m.returncode is None and m.popen.poll() is None:
            try:
                m.popen.send_signal(signum)
            except OSError:
                continue
            m.stopped_by_group = name


def _wait_all(members: list[Member]) -> None:
    for m in members:
        m.returncode = m.popen.wait()
        m.ended = round(time.time(), 6)


def blame(run_dir: Path, members: list[Member]) -> Member | None:
    """The worker whose failure ended the group, on evidence (see the module's words)."""
    own = [m for m in members if m.returncode not in (0, None) and m.stopped_by_group is None]
    if not own:
        own = [m for m in members if m.returncode not in (0, None)]
    if not own:
        return None
    own.sort(key=lambda m: m.ended or 0.0)
    with_oom = [m for m in own if _has_event(run_dir / m.events, "oom")]
    if with_oom:
        return with_oom[0]
    not_peer = [m for m in own if not peer_loss(_evidence_text(run_dir, m))]
    return (not_peer or own)[0]


def peer_loss(text: str) -> bool:
    """The words of a worker that failed because another one died under it."""
    return any(p in text for p in PEER_LOSS)


def _evidence_text(run_dir: Path, m: Member) -> str:
    text = _tail(run_dir / m.log)
    for event in _events(run_dir / m.events):
        if event.get("type") == "error":
            text += f"\n{event.get('exception')}: {event.get('message')}"
    return text


def _has_event(path: Path, kind: str) -> bool:
    return any(e.get("type") == kind for e in _events(path))


def _events(path: Path) -> list[dict[str, Any]]:
    try:
        lines = _tail(path, 256 * 1024).splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            out.append(event)
    return out


def _tail(path: Path, max_bytes: int = 64 * 1024) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - max_bytes))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _exit(members: list[Member], workers: int, blamed: Member | None, failed_at: float | None,
          error: str | None = None) -> dict[str, Any]:
    """exit.json of a group: the blamed worker's ending (else rank 0's) as the run's, plus every worker's."""
    lead = blamed or (members[0] if members else None)
    code = lead.returncode if lead is not None else None
    # All finished: 0. A stop asked for: the first worker's code that is not 0 (they were told to stop).
    if blamed is None and members and code == 0:
        code = next((m.returncode for m in members if m.returncode), 0)
    record: dict[str, Any] = {"returncode": code, "signal": _signal_name(code), "ended": round(time.time(), 6),
                              "world_size": workers, "workers": [m.record() for m in members],
                              "failed_rank": blamed.rank if blamed is not None else None}
    if failed_at is not None:
        last = max((m.ended or 0.0) for m in members)
        first = min((m.ended or last) for m in members if m.returncode not in (0, None))
        record["all_stopped_seconds"] = round(last - first, 3)  # from the first abnormal end to the last worker gone
    if _stop.asked:
        record["stop_asked"] = _stop.names
    if error:
        record["error"] = error
    return record


def _signal_name(code: int | None) -> str | None:
    if code is None or code >= 0:
        return None
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _write_pid(run_dir: Path, pid: int) -> None:
    tmp = run_dir / f".{PID_FILE}.tmp"
    tmp.write_text(f"{pid}\n", encoding="ascii")
    os.replace(tmp, run_dir / PID_FILE)
