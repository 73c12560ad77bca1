"""Sleep until the events file changes, the run's process ends, or we are woken.

Why: the watch loop used to poll RUN/events.jsonl and the process every 10 ms.
Those 100 wake-ups a second cost about 1.5% of one core in the watch thread
alone, most of memtui's whole budget (<= 2%), while a run steps only 20 times a
second. On Linux, inotify says when the file is written and a pidfd becomes
readable when the process exits, so the thread can sleep in `poll()` until one
of them fires, or until its own periodic work (RSS sample, liveness check,
batch flush) is due.

Each part falls back on its own, silently: no inotify (not Linux, ENOSYS, the
per-user limit: EMFILE) or a lost watch means `file_events` is False and the
caller polls the file every 10 ms as before; no pidfd (old kernel, EPERM, the
pid already gone) means `exit_events` is False and the caller checks the
process as before. A pipe lets another thread (`wake()`, on detach) end a
sleep at once.

inotify watches the folder (for the file appearing) until the follower has the
file open, then the open inode itself through /proc/self/fd, so the trainer's
writes to trainer.log in the same folder do not wake the loop.
"""

from __future__ import annotations

import ctypes
import errno
import math
import os
import select
import struct
import sys
import threading
import time
from pathlib import Path

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004  # link count: the file was deleted
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000  # the watch is gone
IN_ONLYDIR = 0x01000000
DIR_MASK = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR
FILE_MASK = IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name
_READ = 64 * 1024
_IN = getattr(select, "POLLIN", 1)
_BAD = getattr(select, "POLLERR", 8) | getattr(select, "POLLHUP", 16) | getattr(select, "POLLNVAL", 32)

_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if not sys.platform.startswith("linux"):
        raise OSError(errno.ENOSYS, "inotify is Linux only")
    if _libc is None:
        lib = ctypes.CDLL(None, use_errno=True)
        try:
            lib.inotify_init1.argtypes = [ctypes.c_int]
            lib.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
            lib.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        except AttributeError as exc:
            raise OSError(errno.ENOSYS, "this libc has no inotify") from exc
        _libc = lib
    return _libc


def _check(result: int) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def open_inotify() -> int:
    """A non-blocking, close-on-exec inotify descriptor; OSError when there is none."""
    return _check(_lib().inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC))


def add_watch(ifd: int, path: str | Path, mask: int) -> int:
    return _check(_lib().inotify_add_watch(ifd, os.fsencode(path), mask))


def open_pidfd(pid: int) -> int:
    """A descriptor that becomes readable when process `pid` exits; OSError when there is none."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        raise OSError(errno.ENOSYS, "no os.pidfd_open")
    return int(pidfd_open(pid))


def _close(fd: int | None) -> None:
    if fd is None:
        return
    try:
        os.close(fd)
    except OSError:  # already gone: nothing left to release
        return


class Wakeup:
    """The sleeps of one watch loop. `open()` and `wait()` run on the loop's thread;
    `wake()` may come from any thread, before, during or after the loop."""

    def __init__(self, path: str | Path, pid: int | None) -> None:
        self.path = Path(path)
        self._name = self.path.name.encode()
        self.pid = pid
        self.wakeups = 0  # returns from wait(): what the loop paid for
        self._ifd: int | None = None
        self._dir_wd: int | None = None
        self._file_wd: int | None = None
        self._pidfd: int | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._poller: select.poll | None = None
        self._lock = threading.Lock()
        self._closed = False

    # --- what works ------------------------------------------------------

    @property
    def file_events(self) -> bool:
        """True while a write to the file is sure to end a wait."""
        return self._ifd is not None

    @property
    def exit_events(self) -> bool:
        """True while the process's end is sure to end a wait."""
        return self._pidfd is not None

    @property
    def can_wake(self) -> bool:
        """True when `wake()` ends a wait (else keep waits short)."""
        return self._wake_w is not None

    # --- set-up and tear-down ---------------------------------------------

    def open(self) -> Wakeup:
        if not hasattr(select, "poll"):
            return self  # no poll(): every wait is a plain sleep
        self._poller = select.poll()
        self._open_pipe()
        self._open_inotify()
        if self.pid:
            try:
                self._pidfd = open_pidfd(self.pid)
            except OSError:
                self._pidfd = None  # old kernel, not allowed, or gone: the caller checks the process
            else:
                self._poller.register(self._pidfd, _IN)
        return self

    def _open_pipe(self) -> None:
        assert self._poller is not None
        try:
            r, w = os.pipe()
        except OSError:
            return  # out of descriptors: waits stay short instead
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        with self._lock:
            if self._closed:
                _close(r)
                _close(w)
                return
            self._wake_r, self._wake_w = r, w
        self._poller.register(r, _IN)

    def _open_inotify(self) -> None:
        assert self._poller is not None
        try:
            ifd = open_inotify()
        except OSError:
            return  # no inotify, or the per-user limit: the caller polls
        try:
            self._dir_wd = add_watch(ifd, self.path.parent, DIR_MASK)
        except OSError:
            _close(ifd)
            return
        self._ifd = ifd
        self._poller.register(ifd, _IN)

    def track_file(self, fd: int) -> bool:
        """Watch the inode behind the follower's open `fd` instead of the folder.
        True when the watch is new: read the file once more before waiting, since
        a write between the last read and the watch raised no event."""
        if self._ifd is None or self._file_wd is not None:
            return False
        try:
            self._file_wd = add_watch(self._ifd, f"/proc/self/fd/{fd}", FILE_MASK)
        except OSError:
            try:
                self._file_wd = add_watch(self._ifd, self.path, FILE_MASK)
            except OSError:
                self._stop_inotify()
                return False
        if self._dir_wd is not None:
            dir_wd, self._dir_wd = self._dir_wd, None  # its IN_IGNORED is expected, not a loss
            try:
                _check(_lib().inotify_rm_watch(self._ifd, dir_wd))
            except OSError:  # the folder is gone already: its watch went with it
                pass
        return True

    def _stop_inotify(self) -> None:
        if self._ifd is not None and self._poller is not None:
            self._poller.unregister(self._ifd)
        _close(self._ifd)
        self._ifd = self._dir_wd = self._file_wd = None

    def _drop_pidfd(self) -> None:
        if self._pidfd is not None and self._poller is not None:
            self._poller.unregister(self._pidfd)
        _close(self._pidfd)
        self._pidfd = None

    def close(self) -> None:
        self._stop_inotify()
        self._drop_pidfd()
        with self._lock:
            self._closed = True
            _close(self._wake_r)
            _close(self._wake_w)
            self._wake_r = self._wake_w = None
        self._poller = None

    # --- waiting ---------------------------------------------------------

    def wake(self) -> None:
        """End the current (or next) wait now. Safe from any thread, and after close()."""
        with self._lock:
            if self._wake_w is None:
                return
            try:
                os.write(self._wake_w, b"x")
            except BlockingIOError:  # the pipe is full: a wake-up is pending anyway
                return

    def wait(self, timeout: float) -> bool:
        """Sleep at most `timeout` seconds, until the file changes, the process
        ends or `wake()`. True when the process's end is what woke it (once: the
        pidfd is closed then, and the caller confirms and checks from then on)."""
        self.wakeups += 1
        if self._poller is None:
            time.sleep(max(timeout, 0.0))
            return False
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            ms = max(0, math.ceil((deadline - time.monotonic()) * 1000))
            ready = self._poller.poll(ms)
            if not ready:
                return False
            relevant = exited = False
            for fd, flags in ready:
                if fd == self._pidfd:
                    exited = True
                    self._drop_pidfd()
                elif fd == self._ifd:
                    relevant = self._drain_inotify(flags) or relevant
                elif fd == self._wake_r:
                    relevant = True
                    self._drain_pipe(flags)
            if relevant or exited or time.monotonic() >= deadline:
                return exited
            # Only other files in the folder changed (trainer.log): sleep on.

    def _drain_pipe(self, flags: int) -> None:
        assert self._wake_r is not None
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            return
        except OSError:
            flags |= _BAD
        if flags & _BAD and self._poller is not None:
            self._poller.unregister(self._wake_r)  # broken: waits stay short from now on
            with self._lock:
                _close(self._wake_r)
                _close(self._wake_w)
                self._wake_r = self._wake_w = None

    def _drain_inotify(self, flags: int) -> bool:
        """Read the pending inotify events (one read: poll() is level-triggered, so
        any left wake the next one); True when one concerns the events file."""
        assert self._ifd is not None
        relevant = False
        try:
            data = os.read(self._ifd, _READ)
        except BlockingIOError:
            data = b""
        except OSError:
            self._stop_inotify()  # the caller polls from now on
            return True
        if data:
            relevant = self._parse(data)
        if self._ifd is not None and flags & _BAD and not flags & _IN:
            self._stop_inotify()
            return True
        return relevant

    def _parse(self, data: bytes) -> bool:
        relevant = False
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size
            event_name = data[offset:offset + length].rstrip(b"\0")
            offset += length
            if mask & IN_Q_OVERFLOW:
                relevant = True
            elif wd == self._file_wd:
                relevant = True
                if mask & IN_IGNORED:
                    self._stop_inotify()  # the watch is lost: the caller polls from now on
                    return True
            elif wd == self._dir_wd:
                if mask & IN_IGNORED:
                    self._stop_inotify()  # the folder went away before the file came
                    return True
                relevant = relevant or event_name == self._name
        return relevant
