"""Remember which image files decoded, so a relaunch does not decode them all again.

memtui relaunches often (an OOM, a remedy key, a find-batch probe), and the
pre-pass that finds corrupt files decodes every image once. Files are known by
path, size and modification time; a changed file is checked again. The cache
is only a shortcut: when it cannot be read or written, everything is decoded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

Signature = tuple[int, int]  # (size, mtime_ns)


def signature(path: str) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _file(cache_dir: Path, root: str | Path) -> Path:
    key = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:24]
    return cache_dir / f"{key}.json"


def load(cache_dir: Path, root: str | Path) -> dict[str, tuple[Signature, bool]]:
    """path -> (signature when checked, decoded?)"""
    try:
        raw = json.loads(_file(cache_dir, root).read_text(encoding="utf-8"))
        return {p: ((int(v[0]), int(v[1])), bool(v[2])) for p, v in raw.items()}
    except (OSError, ValueError, TypeError, IndexError, AttributeError):
        return {}


def save(cache_dir: Path, root: str | Path, entries: dict[str, tuple[Signature, bool]]) -> None:
    target = _file(cache_dir, root)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({p: [s[0], s[1], ok] for p, (s, ok) in entries.items()}), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        # A full or read-only cache costs the next run one decode pass, nothing more.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
