"""Check a data folder before launching, without TensorFlow.

The trainer checks again (it is the authority), but catching a typo in
`--data` here means one clear line in a second instead of a trainer start-up
of several seconds and an error on screen. Files are recognised by their first
bytes, so a text file named `.jpg` does not count as an image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from trainer.config import ConfigError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"GIF87a", b"GIF89a")


@dataclass(frozen=True)
class DataSummary:
    classes: tuple[str, ...]
    files: int  # files with an image suffix, readable or not


def looks_like_image(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return any(head.startswith(m) for m in _MAGIC)


def check_data_folder(folder: str | Path) -> DataSummary:
    """Raise ConfigError (one line, with the fix) unless `folder` can be trained on."""
    root = Path(folder).expanduser()
    fix = "give a folder with one subfolder of images per class, e.g. data/cat/1.jpg, data/dog/2.png"
    try:
        root.stat()
    except FileNotFoundError:
        if root.is_symlink():
            raise ConfigError(f"--data: cannot read {root} (a broken link); point it at a real folder") from None
        raise ConfigError(f"--data: {root} does not exist; {fix}") from None
    except OSError as exc:  # a link loop, a permission problem on a parent, ...
        raise ConfigError(f"--data: cannot read {root} ({exc.strerror}); check the path and its permissions") from None
    if not root.is_dir():
        raise ConfigError(f"--data: {root} is a file, not a folder; {fix}")
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise ConfigError(f"--data: cannot read {root} ({exc.strerror}); check its permissions") from None
    if not entries:
        raise ConfigError(f"--data: {root} is empty; {fix}")
    class_dirs = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
    if not class_dirs:
        raise ConfigError(f"--data: {root} has no class subfolders; {fix}")
    total = 0
    for entry in class_dirs:
        try:
            names = sorted(n for n in os.listdir(entry.path) if n.lower().endswith(IMAGE_SUFFIXES))
        except OSError as exc:
            raise ConfigError(f"--data: cannot read class folder {entry.path} ({exc.strerror})") from None
        if not names:
            raise ConfigError(
                f"--data: class folder {entry.path} has no images (.jpg .png .bmp .gif); add some or remove it"
            )
        total += len(names)
        # One readable image per class is enough to know the class can train; the
        # trainer skips and counts the unreadable rest.
        if not any(looks_like_image(Path(entry.path) / n) for n in names):
            raise ConfigError(
                f"--data: none of the {len(names)} files in {entry.path} is a readable image; replace them"
            )
    if len(class_dirs) < 2:
        raise ConfigError(f"--data: {root} has only one class folder ({class_dirs[0].name}); add at least one more")
    return DataSummary(classes=tuple(e.name for e in class_dirs), files=total)
