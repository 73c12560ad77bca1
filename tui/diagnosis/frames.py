"""The user's own line in a Python traceback: where their script crashed.

A crash of the user's own script is evidence only with its file and line, and
the deepest frame of a traceback is usually inside Keras or TensorFlow. This
finds the deepest frame that is the user's: not in site-packages, not in the
standard library, not memtui's hook.
"""

from __future__ import annotations

import os
import re

_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
_NOT_THE_USERS = re.compile(
    r"[/\\](?:site|dist)-packages[/\\]|[/\\]lib[/\\]python\d[\d.]*[/\\]|[/\\]scripthook[/\\]boot[/\\]"
    r"|^<frozen |^<string>$|^<stdin>$")


def user_frame(text: str, workdir: str | None = None) -> str | None:
    """`train.py:12 in <module>: model.fit(x_train, y_train)` for the deepest frame of
    the last traceback in `text` that is the user's code, or None."""
    start = text.rfind(_TRACEBACK)
    if start < 0:
        return None
    lines = text[start:].splitlines()[1:]
    found: tuple[str, str, str, str] | None = None
    for i, line in enumerate(lines):
        match = _FRAME.match(line)
        if match is None:
            if line and not line.startswith(" "):
                break  # the exception line: the traceback is over
            continue
        path = match["path"]
        if _NOT_THE_USERS.search(path):
            continue
        source = lines[i + 1].strip() if i + 1 < len(lines) and not _FRAME.match(lines[i + 1]) else ""
        found = (path, match["line"], match["func"].strip(), source)
    if found is None:
        return None
    path, line, func, source = found
    shown = _relative(path, workdir)
    code = f": {source[:200]}" if source and not source.startswith(("^", "~")) else ""
    return f"{shown}:{line} in {func}{code}"


def _relative(path: str, workdir: str | None) -> str:
    if workdir:
        try:
            rel = os.path.relpath(path, workdir)
        except ValueError:
            return path
        if not rel.startswith(".."):
            return rel
    return path
