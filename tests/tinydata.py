"""Tiny image folders for tests, written with the standard library only.

Importing this module never imports TensorFlow, so a test can build its data
in the pytest process and pay the TensorFlow import only in the trainer
subprocess. The images are real files that TensorFlow decodes: PNG (RGB,
grayscale, RGBA) from a small pure-Python encoder, and 24-bit BMP.

The OOM recipe below gives a real `ResourceExhaustedError` on a CPU-only
machine: the trainer's address-space limit (`--host-memory-limit`) denies the
big activation tensor of a large batch, so TensorFlow raises instead of
touching the memory (the trainer turns oneDNN off under a host limit, because
oneDNN's kernels segfault on a denied allocation). Measured on the project's
2-core CPU machine, small model, 64x64 images, 3 classes, 3072 MB limit:
batches 64-512 fit; 1024 and 2048 die with `std::bad_alloc` (SIGABRT, exit
-6/134, no event); 4096 and 8192 give exit 3 with `OOM when allocating tensor
with shape[4096,64,64,16] and type float ... by allocator cpu` in ~4 s.
The limit covers address space, not RSS, so the numbers depend on the thread
count (more cores, more reserved stacks): re-measure on a bigger machine.
"""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A real OOM on CPU: limit, image size and a batch that OOMs quickly; a batch
# that fits under the same limit. Other engineers reuse these for recovery and
# find-batch tests.
OOM_LIMIT_MB = 3072
OOM_IMAGE_SIZE = 64
OOM_BATCH = 4096
FITS_BATCH = 64
# Under OOM_LIMIT_MB at OOM_IMAGE_SIZE: batches <= FITS_MAX_BATCH fit; batches
# in [ABORT_BATCH_MIN, OOMS_MIN_BATCH) abort with std::bad_alloc (SIGABRT);
# batches >= OOMS_MIN_BATCH raise ResourceExhaustedError (exit 3).
FITS_MAX_BATCH = 512
ABORT_BATCH_MIN = 1024
OOMS_MIN_BATCH = 4096
# A user's own TensorFlow script (the script hook's tests, tests/scripts/host_oom.py)
# also loads JAX when it is installed (the jax extra): TensorFlow's TFLite helpers
# import it, +270 MB of address space (the built-in trainer keeps JAX out on
# TensorFlow, trainer.backends.keep_jax_out; a user's script is left as it is).
# Under 3072 MB batch 64 then sometimes aborted (free(): invalid size) and batch
# 4096 failed in the tf.data map instead of the model; under this limit, 4 of 4
# runs: 64 fits, 4096 is `OOM when allocating tensor with shape[4096,64,64,16]`.
SCRIPT_OOM_LIMIT_MB = 3584
# The same on the JAX backend (--backend jax, CPU jaxlib 0.10, 64x64 images,
# small model, ONE step per epoch). With TensorFlow (for tf.data) and JAX both
# loaded the trainer holds about 2.3 GB of address space at its first step (the
# trainer caps glibc's malloc arenas under a host limit on JAX: without that,
# hundreds of MB more, and std::bad_alloc or "can't start new thread" instead of
# an exception). XLA's CPU client then asks for one buffer for the whole step,
# about 3.3 MB per example, and a refusal is a clean `JaxRuntimeError:
# RESOURCE_EXHAUSTED: Out of memory allocating N bytes` (exit 3). Measured on the
# 2-core machine under 5120 MB: batch 1024 asks 3,340,857,192 bytes and fails at
# its first step; batch 512 (accumulating 2) peaks at 4.2-4.3 GB and fits. One
# step per epoch because JAX dispatches the next step before the last one ends:
# with two in flight, two buffers can be alive (VmPeak varied by ~400 MB).
JAX_OOM_LIMIT_MB = 5120
JAX_OOM_BATCH = 1024

Pixel = tuple[int, ...]


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_bytes(width: int, height: int, pixel: Pixel | list[list[Pixel]], mode: str = "RGB") -> bytes:
    """A valid PNG. `pixel` is one colour for the whole image or rows of colours.
    mode: "L" (grayscale), "RGB" or "RGBA"."""
    color_type, channels = {"L": (0, 1), "RGB": (2, 3), "RGBA": (6, 4)}[mode]
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type 0 (none) for every scanline
        for x in range(width):
            value = pixel if isinstance(pixel, tuple) else pixel[y][x]
            if len(value) != channels:
                raise ValueError(f"{mode} pixels need {channels} values, got {value!r}")
            row.extend(value)
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + _chunk(b"IEND", b"")
    )


def bmp_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid 24-bit uncompressed BMP of one colour."""
    row = bytes([rgb[2], rgb[1], rgb[0]]) * width
    row += b"\x00" * ((4 - len(row) % 4) % 4)
    pixels = row * height
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return header + info + pixels


# A JPEG start-of-image and APP0 header followed by noise: it looks like a JPEG
# to anything that sniffs magic bytes, and fails to decode.
CORRUPT_JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + bytes(random.Random(7).randrange(256) for _ in range(300))
)


def class_colour(index: int) -> tuple[int, int, int]:
    """Well separated colours, so a tiny model learns the classes in a few steps."""
    palette = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
               (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190), (0, 128, 128)]
    return palette[index % len(palette)]


def _noisy(size: int, base: tuple[int, int, int], rng: random.Random) -> list[list[Pixel]]:
    return [
        [tuple(max(0, min(255, c + rng.randint(-20, 20))) for c in base) for _ in range(size)]
        for _ in range(size)
    ]


def make_image_folder(
    root: str | Path,
    classes: int = 3,
    per_class: int = 6,
    size: int = 16,
    seed: int = 0,
) -> Path:
    """`root/class_<i>/img_<j>.png`: `classes` folders of `per_class` RGB PNGs,
    each class a noisy version of its own colour. Returns `root`."""
    root = Path(root)
    rng = random.Random(seed)
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(per_class):
            data = png_bytes(size, size, _noisy(size, class_colour(c), rng))
            (folder / f"img_{j}.png").write_bytes(data)
    return root


def make_messy_folder(root: str | Path, classes: int = 2, per_class: int = 4, size: int = 16) -> Path:
    """A class folder tree plus the awkward files a real folder has: a corrupt
    JPEG and a text file named .jpg (both must be skipped), a grayscale PNG, an
    RGBA PNG and a BMP (all three must be used). Returns `root`."""
    root = make_image_folder(root, classes=classes, per_class=per_class, size=size)
    first = root / "class_0"
    (first / "corrupt.jpg").write_bytes(CORRUPT_JPEG)
    (first / "notes.jpg").write_text("this is not an image\n", encoding="utf-8")
    (first / "gray.png").write_bytes(png_bytes(size, size, (128,), mode="L"))
    (first / "rgba.png").write_bytes(png_bytes(size, size, (*class_colour(0), 200), mode="RGBA"))
    (root / f"class_{classes - 1}" / "picture.bmp").write_bytes(bmp_bytes(size, size, class_colour(classes - 1)))
    return root


MESSY_SKIPPED = 2  # corrupt.jpg and notes.jpg


def write_files(root: str | Path, names: Sequence[str], content: bytes = b"") -> None:
    """Create files (and their folders) under root, e.g. for layout errors."""
    for name in names:
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


# --- running the real trainer ---------------------------------------------


@dataclass
class TrainerResult:
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]]
    lines: list[str]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of_type(kind)
        assert len(found) == 1, f"expected one {kind} event, got {len(found)}: {self.stderr[-2000:]}"
        return found[0]


def trainer_command(run_dir: str | Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "trainer", "--run-dir", str(run_dir), *flags]


def trainer_env(cache: str | Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for a trainer subprocess: quiet TF, a private demo cache."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if cache is not None:
        env["MEMTUI_CACHE_DIR"] = str(cache)
    env.update(extra)
    return env


def read_events(run_dir: str | Path) -> tuple[list[str], list[dict[str, Any]]]:
    path = Path(run_dir) / "events.jsonl"
    if not path.exists():
        return [], []
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines, [json.loads(line) for line in lines if line.strip().startswith("{")]


def run_trainer(
    run_dir: str | Path, *flags: str, env: dict[str, str] | None = None, timeout: float = 600
) -> TrainerResult:
    """Run `python -m trainer` to its end and collect its exit code, stderr and events."""
    proc = subprocess.run(
        trainer_command(run_dir, *flags), env=env or trainer_env(), capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )
    lines, events = read_events(run_dir)
    return TrainerResult(proc.returncode, proc.stdout, proc.stderr, events, lines)
