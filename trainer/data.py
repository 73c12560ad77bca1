"""The seed's Example 2 grown up: an image folder to a tf.data pipeline.

A folder holds one subfolder per class. Listing and layout checks are plain
Python and run before TensorFlow is imported, so a wrong `--data` is one line
and exit 2 in well under a second. Every file is then decoded once in a
parallel pre-pass; the ones that fail (corrupt, or not an image at all) are
skipped and counted, so run_start can say honestly how many were left out.

The pipeline streams: shuffle a bounded buffer of file names, read and decode
in parallel, resize, normalise, batch, prefetch. Host memory stays flat as the
folder grows, unlike loading everything into one array.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer import decodecache
from trainer.config import ConfigError, RunConfig

IMAGE_FORMATS = "JPEG, PNG, BMP or GIF"


class DataError(ConfigError):
    """The data folder cannot be used; exit 2 with this one line."""


@dataclass
class ImageFolder:
    """The files of a class-per-subfolder tree, labelled by sorted class name."""

    root: str
    class_names: list[str]
    paths: list[str]
    labels: list[int]
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)

    @property
    def files(self) -> int:
        return len(self.paths)

    def summary(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "files": self.files,
            "classes": len(self.class_names),
            "class_names": self.class_names,
            "skipped": self.skipped,
            "skipped_examples": self.skipped_examples,
        }


def list_image_folder(root: str | Path) -> ImageFolder:
    """Every visible file under each class subfolder (decoding decides later
    which are images). Raises DataError for a folder that cannot be used."""
    path = Path(root).expanduser()
    how = "give a folder with one subfolder of images per class, e.g. photos/cats/1.jpg"
    if not path.exists():
        raise DataError(f"--data: {path} does not exist; {how}")
    if not path.is_dir():
        raise DataError(f"--data: {path} is not a folder; {how}")
    try:
        classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise DataError(f"--data: cannot read {path} ({exc.strerror})") from None
    if not classes:
        raise DataError(f"--data: {path} has no class subfolders; {how}")
    paths: list[str] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        for file in sorted((path / name).rglob("*")):
            if file.is_file() and not file.name.startswith("."):
                paths.append(str(file))
                labels.append(label)
    if not paths:
        raise DataError(f"--data: the class folders in {path} ({', '.join(classes[:5])}) hold no files; add images")
    return ImageFolder(str(path), classes, paths, labels)


def drop_undecodable(folder: ImageFolder, cache_dir: Path | None = None) -> ImageFolder:
    """Decode every file once, in parallel; keep the ones that decode. With
    `cache_dir`, files already checked (same path, size and time) are not
    decoded again."""
    sigs = [decodecache.signature(p) for p in folder.paths]
    known = decodecache.load(cache_dir, folder.root) if cache_dir is not None else {}
    keep: set[int] = set()
    unknown: list[int] = []
    for i, (path, sig) in enumerate(zip(folder.paths, sigs, strict=True)):
        entry = known.get(path)
        if sig is not None and entry is not None and entry[0] == sig:
            if entry[1]:
                keep.add(i)
        else:
            unknown.append(i)
    if unknown:
        keep |= _decodable(folder.paths, unknown)
    if cache_dir is not None and unknown:
        decodecache.save(cache_dir, folder.root, {
            p: (s, i in keep) for i, (p, s) in enumerate(zip(folder.paths, sigs, strict=True)) if s is not None
        })
    good = sorted(keep)
    bad = [p for i, p in enumerate(folder.paths) if i not in keep]
    if not good:
        raise DataError(
            f"--data: none of the {folder.files} files under {folder.root} could be decoded as {IMAGE_FORMATS}"
        )
    return ImageFolder(
        folder.root,
        folder.class_names,
        [folder.paths[i] for i in good],
        [folder.labels[i] for i in good],
        skipped=len(bad),
        skipped_examples=[Path(p).name for p in bad[:5]],
    )


def _decodable(paths: list[str], indices: list[int]) -> set[int]:
    """The indices among `indices` whose files decode as images."""
    import tensorflow as tf

    def check(index: Any, path: Any) -> Any:
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return index, tf.shape(image)[0]

    ds = tf.data.Dataset.from_tensor_slices((indices, [paths[i] for i in indices]))
    # Batched so Python touches a thousand results at a time, not each file.
    ds = ds.map(check, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors().batch(1024)
    return {int(i) for batch, _ in ds.as_numpy_iterator() for i in batch}


def split(folder: ImageFolder, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices for training and validation; a seeded shuffle so relaunches agree."""
    order = list(range(folder.files))
    random.Random(seed).shuffle(order)
    n_val = 0
    if fraction > 0 and folder.files >= 2:
        n_val = min(folder.files - 1, max(1, round(folder.files * fraction)))
    return order[n_val:], order[:n_val]


def load_image(path: Any, label: Any, image_size: int) -> Any:
    """Read, decode to 3 channels (grayscale and RGBA become RGB), resize, scale to [0, 1]."""
    import tensorflow as tf

    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image = tf.image.resize(image, [image_size, image_size])
    image = image * (1.0 / 255.0)
    return image, label


def make_dataset(
    folder: ImageFolder, indices: list[int], cfg: RunConfig, image_size: int, training: bool,
    batch_size: int | None = None,
) -> Any:
    """A streaming tf.data pipeline over the chosen files, in batches of
    `batch_size` (default the config's; a worker of a group feeds its share)."""
    import tensorflow as tf

    paths = [folder.paths[i] for i in indices]
    labels = [folder.labels[i] for i in indices]
    ds = tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, dtype=tf.int32)))
    if training and cfg.shuffle_buffer > 0:
        # Shuffling names, not pixels, keeps the buffer's memory tiny.
        ds = ds.shuffle(min(cfg.shuffle_buffer, len(paths)), seed=cfg.seed, reshuffle_each_iteration=True)
    if training:
        # Repeat before batching: every step gets a full batch (steady memory),
        # and fit is told the exact steps per epoch.
        ds = ds.repeat()
    ds = ds.map(lambda p, y: load_image(p, y, image_size), num_parallel_calls=tf.data.AUTOTUNE)
    # A file changed or removed since the pre-pass must not end a long run.
    ds = ds.ignore_errors()
    ds = ds.batch(batch_size or cfg.batch_size)
    return ds.prefetch(tf.data.AUTOTUNE if cfg.prefetch < 0 else cfg.prefetch)


def steps_per_epoch(cfg: RunConfig, train_files: int) -> int:
    if cfg.steps_per_epoch is not None:
        return cfg.steps_per_epoch
    return max(1, math.ceil(train_files / cfg.batch_size))
