"""The hook's own frames out of the script's tracebacks.

An exception raised inside a patched call (the script's fit() failing, its own
callback raising, a compile() it got wrong) passes through the hook's wrappers
on its way up. Without this its traceback printed extra frames (`patches.py,
line N, in fit`) that the script alone does not print: under memtui the script's
stderr had lines memtui added. Each wrapper calls `hide_own_frames` on the
exception before it re-raises it with a bare `raise`, which adds no frame of
its own, so the traceback reads as without memtui. A failure here leaves the
traceback as it was.
"""

from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def own(filename: str) -> bool:
    return os.path.abspath(filename).startswith(HERE)


def hide_own_frames(exc: BaseException) -> None:
    try:
        kept = []
        tb = exc.__traceback__
        while tb is not None:
            if not own(tb.tb_frame.f_code.co_filename):
                kept.append(tb)
            tb = tb.tb_next
        for first, second in zip(kept, [*kept[1:], None], strict=True):
            first.tb_next = second
        exc.__traceback__ = kept[0] if kept else None
    except Exception:
        return  # the traceback stays as it was
