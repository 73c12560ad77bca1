"""The watch loop sleeps until the trainer writes or the process ends (inotify and
a pidfd), with real folders, files and child processes; and without them it
falls back to polling and still sees everything."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.supervision import Collector
from tests.waiting import WAIT, wait_until
from trainer.config import RunConfig
from trainer.protocol import Step, encode
from tui.common.verdict import NOT_OOM, Verdict
from tui.runs.folder import RunDir
from tui.runs.store import RunStore
from tui.supervision import wakeup as wakeup_mod
from tui.supervision import watch as watch_mod
from tui.supervision.attempt import AttemptEnded, AttemptInfo, AttemptStarted, now
from tui.supervision.follow import EventFollower
from tui.supervision.watch import Watched


def _works(opener: Any) -> bool:
    try:
        os.close(opener())
    except OSError:
        return False
    return True


HAS_INOTIFY = _works(wakeup_mod.open_inotify)
HAS_PIDFD = _works(lambda: wakeup_mod.open_pidfd(os.getpid()))


def step_line(step: int) -> bytes:
    return (encode("step", epoch=1, step=step, loss=0.5, batch_size=8, step_seconds=0.05,
                   examples_per_second=160.0, memory={}) + "\n").encode()


def append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def child(seconds: float, stamp: Path | None = None) -> subprocess.Popen[bytes]:
    """A real process in its own group, like the reaper; it writes the time it ends to `stamp`."""
    code = f"import time; time.sleep({seconds})"
    if stamp is not None:
        code += f"; open({str(stamp)!r}, 'w').write(repr(time.time()))"
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def diagnose(**_: Any) -> Verdict:
    return Verdict(NOT_OOM, "ended")


def watched_run(tmp_path: Path, popen: subprocess.Popen[bytes]) -> tuple[Watched, Collector, RunDir]:
    run = RunStore(tmp_path / "runs").new_run(RunConfig(), session="s", attempt=1, reason="launch",
                                              trainer_module="tests.stand_in_trainer")
    run.update_meta(reaper_pid=popen.pid, pgid=popen.pid)
    info = AttemptInfo(number=1, run_id=run.id, run_dir=run.path, config=RunConfig(), reason="launch",
                       state="starting", started=now())
    sink = Collector()
    watched = Watched(info, run, popen=popen, lock_fd=None, emit=sink, diagnose=diagnose)
    watched.start()
    sink.wait(lambda ns: any(isinstance(n, AttemptStarted) for n in ns), what="the start")
    return watched, sink, run


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()


def end(popen: subprocess.Popen[bytes], watched: Watched) -> None:
    if popen.poll() is None:
        popen.kill()
    popen.wait()
    watched.done.wait(10)


def checks(seconds: float) -> int:
    """The most wake-ups a loop woken only by its liveness checks makes in
    `seconds` (10 at least, as measured at 0.25 s a check); polling makes 100 a second."""
    return max(10, int(seconds / watch_mod.LIVENESS_EVERY) + 3)


def wakeups_over(watched: Watched, seconds: float) -> tuple[int, float]:
    """The loop's wake-ups while this thread sleeps `seconds`, and how long that really took."""
    before, start = watched.wakeup.wakeups, time.monotonic()
    time.sleep(seconds)
    return watched.wakeup.wakeups - before, time.monotonic() - start


def test_a_write_reaches_the_loop_and_an_idle_loop_does_not_spin(tmp_path):
    popen = child(30)
    watched, sink, run = watched_run(tmp_path, popen)
    try:
        # No events file yet: the folder is watched, and trainer.log writes do not wake the loop.
        for i in range(20):
            append(run.log_path, f"noise {i}\n".encode())
        idle_wakeups, idle_seconds = wakeups_over(watched, 1.0)

        for number in (1, 2):  # the first creates the file, the second goes to its watched inode
            threading.Thread(target=append, args=(run.events_path, step_line(number))).start()
            sink.wait(lambda _, n=number: [s.step for s in sink.steps()] == list(range(1, n + 1)),
                      what=f"step {number}")

        # A line in two writes: nothing until its newline, then the whole step.
        half = step_line(3)
        append(run.events_path, half[:20])
        time.sleep(0.1)
        assert [s.step for s in sink.steps()] == [1, 2]
        append(run.events_path, half[20:])
        sink.wait(lambda _: len(sink.steps()) == 3, what="the joined line")

        for i in range(50):
            append(run.log_path, f"more noise {i}\n".encode())
        noise_wakeups, noise_seconds = wakeups_over(watched, 0.5)
    finally:
        end(popen, watched)

    assert sink.wait_ended(run.id).attempt.steps == 3
    if not (HAS_INOTIFY and HAS_PIDFD):
        pytest.skip("no inotify or pidfd here: the loop polls every 10 ms (the events still arrived)")
    # Liveness checks every 0.25 s: about 4 a second, where polling made 100. Counted
    # against the time that really passed, so a loaded machine cannot fail it.
    assert idle_wakeups <= checks(idle_seconds), (idle_wakeups, idle_seconds)
    assert noise_wakeups <= checks(noise_seconds), (noise_wakeups, noise_seconds)


def test_the_end_of_a_real_child_is_noticed_through_its_pidfd(tmp_path):
    if not HAS_PIDFD:
        pytest.skip("os.pidfd_open is not available here (needs Linux 5.3+): the end is found by polling")
    started = time.monotonic()
    popen = child(0.3)
    watched, sink, run = watched_run(tmp_path, popen)
    try:
        assert watched.exited.wait(WAIT), "the end of the child was not noticed"
        seconds = time.monotonic() - started
        ended = sink.wait_ended(run.id)
    finally:
        end(popen, watched)
    assert ended.attempt.exit_code is None and ended.verdict.kind == NOT_OOM
    assert popen.returncode == 0
    # Polled every 10 ms, 0.3 s would take ~30 passes; woken by the pidfd, a handful.
    assert watched.wakeup.wakeups <= checks(seconds), (watched.wakeup.wakeups, seconds)


def _no_inotify() -> int:
    raise OSError(errno.ENOSYS, "inotify switched off by the test")


def _no_pidfd(pid: int) -> int:
    raise OSError(errno.ENOSYS, "pidfd switched off by the test")


def test_without_inotify_and_pidfd_the_loop_polls_and_sees_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(wakeup_mod, "open_inotify", _no_inotify)
    monkeypatch.setattr(wakeup_mod, "open_pidfd", _no_pidfd)
    popen = child(30)
    watched, sink, run = watched_run(tmp_path, popen)
    try:
        assert not watched.wakeup.file_events and not watched.wakeup.exit_events
        append(run.events_path, step_line(1) + b"not json\n" + step_line(2)[:15])
        sink.wait(lambda _: len(sink.steps()) == 1, timeout=5, what="the first step")
        assert sink.garbage() == 1
        append(run.events_path, step_line(2)[15:])
        sink.wait(lambda _: len(sink.steps()) == 2, timeout=5, what="the joined line")
        before = watched.wakeup.wakeups
        time.sleep(0.5)
        assert watched.wakeup.wakeups - before > 10  # polling, as before
        popen.kill()
        ended = sink.wait_ended(run.id, timeout=5)
    finally:
        end(popen, watched)
    assert ended.attempt.exit_code is None and ended.attempt.steps == 2
    assert isinstance(sink.notices[-1], AttemptEnded)


def test_a_deleted_events_file_is_told_and_still_read(tmp_path):
    popen = child(30)
    watched, sink, run = watched_run(tmp_path, popen)
    try:
        append(run.events_path, step_line(1))
        sink.wait(lambda _: len(sink.steps()) == 1, timeout=5, what="the first step")
        fd = os.open(run.events_path, os.O_WRONLY | os.O_APPEND)  # the trainer's descriptor
        try:
            run.events_path.unlink()
            wait_until(lambda: any("was deleted" in p for p in sink.problems()), timeout=5, what="the note")
            os.write(fd, step_line(2))
            sink.wait(lambda _: len(sink.steps()) == 2, timeout=5, what="a step after the delete")
        finally:
            os.close(fd)
    finally:
        end(popen, watched)


def detach_a_sleeping_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[float, Collector, set[str]]:
    """Detach a loop asleep with no liveness check due for a minute: how long
    the detach took, the notices, the descriptors left open that were not before."""
    monkeypatch.setattr(watch_mod, "LIVENESS_EVERY", 60.0)  # only wake() can end the sleep soon
    fds_before = open_fds()
    popen = child(30)
    watched, sink, run = watched_run(tmp_path, popen)
    try:
        append(run.events_path, step_line(1))
        sink.wait(lambda _: len(sink.steps()) == 1, timeout=5, what="the first step")
        time.sleep(0.1)  # asleep now
        start = time.monotonic()
        watched.detached.set()
        watched.wake()
        watched.thread.join(5)  # far less than the minute the sleep would last
        took = time.monotonic() - start
        assert not watched.thread.is_alive()
        watched.wake()  # after close: harmless
    finally:
        end(popen, watched)
    return took, sink, open_fds() - fds_before


def test_detach_ends_a_long_sleep_at_once_and_every_descriptor_is_closed(tmp_path, monkeypatch):
    _, sink, leaked = detach_a_sleeping_loop(tmp_path, monkeypatch)
    assert not sink.of(AttemptEnded)  # detached: the run is not concluded here
    assert not leaked, [os.readlink(f"/proc/self/fd/{n}") for n in leaked if os.path.exists(f"/proc/self/fd/{n}")]


def test_a_poll_that_stops_at_its_limit_says_more_is_waiting(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = b"".join(step_line(i) for i in range(1, 20_001))  # a few MB, more than one read
    path.write_bytes(lines)
    with EventFollower(path) as follower:
        first, _ = follower.poll(max_bytes=1)
        assert follower.backlog and follower.fd is not None
        rest, _ = follower.poll()
        assert not follower.backlog
    assert [e.step for e in [*first, *rest] if isinstance(e, Step)] == list(range(1, 20_001))


def test_a_poll_reads_no_more_than_its_limit(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [step_line(i) for i in range(1, 2_001)]  # lengths differ: the step's digits, the time's
    path.write_bytes(b"".join(lines))
    with EventFollower(path) as follower:
        first, _ = follower.poll(max_bytes=sum(map(len, lines[:10])))  # far below one 1 MiB read
        assert [e.step for e in first if isinstance(e, Step)] == list(range(1, 11))
        assert follower.backlog
        rest, _ = follower.poll()
    assert [e.step for e in rest if isinstance(e, Step)] == list(range(11, 2_001))
