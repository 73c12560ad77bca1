"""Follow RUN/events.jsonl as the trainer writes it.

`EventFollower.poll()` is non-blocking: it returns the events completed since
the last call. It reads from the start of the file (so attaching replays
everything), keeps a line without its newline until the rest arrives, counts
lines that are not events and goes on, waits quietly for a file that does not
exist yet, and keeps reading its open descriptor when the file is deleted
mid-run, because the trainer keeps writing to the same inode.
"""

from __future__ import annotations

import os
from pathlib import Path

from trainer.protocol import Event, decode_lines

_CHUNK = 1 << 20


class EventFollower:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._tail = b""
        self.garbage = 0  # lines seen so far that were not events
        self.events_read = 0
        self.deleted = False  # the file was unlinked while we read it
        self.backlog = False  # the last poll stopped at max_bytes: more is there to read now
        self.notes: list[str] = []  # things worth telling the person, each once

    def _open(self) -> bool:
        if self._fd is not None:
            return True
        try:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return False
        return True

    def poll(self, max_bytes: int = 8 * _CHUNK) -> tuple[list[Event], int]:
        """Events completed since the last poll, and how many garbage lines came with them."""
        if not self._open():
            return [], 0
        assert self._fd is not None
        chunks = []
        got = 0
        self.backlog = False
        while got < max_bytes:
            data = os.read(self._fd, min(_CHUNK, max_bytes - got))
            if not data:
                break
            chunks.append(data)
            got += len(data)
        else:
            self.backlog = True
        if not chunks:
            self._check_deleted()
            return [], 0
        data = self._tail + b"".join(chunks)
        cut = data.rfind(b"\n")
        if cut < 0:
            self._tail = data
            return [], 0
        self._tail = data[cut + 1:]
        return self._decode(data[:cut].split(b"\n"))

    def _decode(self, lines: list[bytes]) -> tuple[list[Event], int]:
        events, garbage = decode_lines(lines)
        self.garbage += garbage
        self.events_read += len(events)
        return events, garbage

    def _check_deleted(self) -> None:
        if self.deleted or self._fd is None:
            return
        if os.fstat(self._fd).st_nlink == 0:
            self.deleted = True
            self.notes.append(f"{self.path} was deleted during the run; still reading the open file")

    def finish(self) -> tuple[list[Event], int]:
        """After the writer has ended: the rest, with a line left without its
        newline decoded on its own (usually garbage: the writer died mid-line)."""
        events, garbage = self.poll()
        if self._tail.strip():
            more, bad = self._decode([self._tail])
            events.extend(more)
            garbage += bad
        self._tail = b""
        return events, garbage

    @property
    def fd(self) -> int | None:
        """The open descriptor of the file (None until it exists), for watching its inode."""
        return self._fd

    @property
    def pending_partial(self) -> bool:
        return bool(self._tail)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> EventFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
