"""The built-in demo: a small labelled folder of real image files.

Generated once into a cache folder and then read through the same file
pipeline as a user's data, so the demo exercises everything a real run does.
Ten classes of coloured shapes on noisy backgrounds: easy enough that the
small CNN's accuracy rises within the first minute on a 2-core CPU.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CACHE_ENV = "MEMTUI_CACHE_DIR"
DEMO_VERSION = "shapes-v1"
DEMO_SIZE = 64  # pixels of the stored files
PER_CLASS = 60

CLASSES = [
    # (name, shape, RGB colour)
    ("red_square", "square", (220, 40, 40)),
    ("green_square", "square", (40, 190, 60)),
    ("blue_square", "square", (40, 80, 220)),
    ("red_disc", "disc", (220, 40, 40)),
    ("green_disc", "disc", (40, 190, 60)),
    ("blue_disc", "disc", (40, 80, 220)),
    ("yellow_cross", "cross", (230, 210, 40)),
    ("magenta_cross", "cross", (210, 50, 200)),
    ("cyan_stripe", "stripe", (40, 200, 210)),
    ("orange_stripe", "stripe", (240, 140, 30)),
]


def cache_root() -> Path:
    given = os.environ.get(CACHE_ENV)
    return Path(given).expanduser() if given else Path.home() / ".cache" / "memtui" / "demo"


def demo_folder() -> Path:
    """The demo's image folder, generated on first use."""
    folder = cache_root() / DEMO_VERSION
    if (folder / ".complete").exists():
        return folder
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    _generate(tmp)
    (tmp / ".complete").write_text("ok\n", encoding="utf-8")
    try:
        tmp.rename(folder)
    except OSError:  # another trainer finished first; use its copy
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _generate(root: Path) -> None:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(1234)
    yy, xx = np.mgrid[0:DEMO_SIZE, 0:DEMO_SIZE]
    for name, shape, colour in CLASSES:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(PER_CLASS):
            image = rng.integers(0, 90, size=(DEMO_SIZE, DEMO_SIZE, 3)).astype(np.int16)
            radius = int(rng.integers(DEMO_SIZE // 6, DEMO_SIZE // 3))
            cy, cx = (int(v) for v in rng.integers(radius, DEMO_SIZE - radius, size=2))
            mask = _mask(shape, yy - cy, xx - cx, radius)
            tint = np.array(colour) + rng.integers(-25, 25, size=3)
            image[mask] = tint
            pixels = tf.constant(np.clip(image, 0, 255).astype(np.uint8))
            tf.io.write_file(str(folder / f"{i:03d}.png"), tf.io.encode_png(pixels))


def _mask(shape: str, dy: object, dx: object, r: int) -> object:
    import numpy as np

    dy_a, dx_a = np.asarray(dy), np.asarray(dx)
    if shape == "square":
        return (np.abs(dy_a) <= r) & (np.abs(dx_a) <= r)
    if shape == "disc":
        return dy_a**2 + dx_a**2 <= r * r
    if shape == "cross":
        w = max(2, r // 3)
        return ((np.abs(dy_a) <= w) & (np.abs(dx_a) <= r)) | ((np.abs(dx_a) <= w) & (np.abs(dy_a) <= r))
    w = max(2, r // 3)  # stripe: a horizontal bar
    return (np.abs(dy_a) <= w) & (np.abs(dx_a) <= r)
