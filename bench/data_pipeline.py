"""Data pipeline: images/s and peak RSS of the trainer's pipeline vs the seed's
Example 2 vs loading every image into one NumPy array.

Each (method, size) is measured in a fresh subprocess, so peak RSS is that
method's alone. Goal: our throughput >= the seed's; our peak RSS flat as the
folder grows (10k / 1k <= 1.1) while the NumPy baseline grows.

    .venv/bin/python bench/data_pipeline.py [--sizes 1000 10000] [--image-size 64] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
METHODS = ("ours", "relaunch", "seed", "numpy")  # relaunch: ours with the decode check remembered
CLASSES = 10


def generate(folder: Path, count: int, pixels: int) -> None:
    """`count` small noisy JPEGs in CLASSES subfolders (cached between runs)."""
    if (folder / ".complete").exists():
        return
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(count)
    for i in range(count):
        sub = folder / f"class_{i % CLASSES}"
        sub.mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 255, size=(pixels, pixels, 3), dtype=np.uint8)
        tf.io.write_file(str(sub / f"{i:05d}.jpg"), tf.io.encode_jpeg(tf.constant(image)))
    (folder / ".complete").write_text("ok")


def measure(method: str, folder: Path, size: int, batch: int) -> dict[str, float]:
    import tensorflow as tf

    files = sorted(str(p) for p in folder.rglob("*.jpg"))
    steps = math.ceil(len(files) / batch)
    # Warm TensorFlow's runtime and tf.data threads alike for every method.
    for _ in tf.data.Dataset.from_tensor_slices(files[:64]).map(tf.io.read_file).batch(32):
        pass
    scan = 0.0
    cache = None
    if method == "relaunch":
        # Ours as a relaunch sees it: the decode check was done by the attempt before.
        from trainer import data as data_mod

        cache = Path(tempfile.mkdtemp()) / "decodable"
        data_mod.drop_undecodable(data_mod.list_image_folder(folder), cache)
    start = time.perf_counter()
    if method in ("ours", "relaunch"):
        from trainer import data as data_mod
        from trainer.config import RunConfig

        folder_info = data_mod.drop_undecodable(data_mod.list_image_folder(folder), cache)
        scan = time.perf_counter() - start
        cfg = RunConfig(data=str(folder), image_size=size, batch_size=batch)
        ds = data_mod.make_dataset(folder_info, list(range(folder_info.files)), cfg, size, training=True)
        timed_from = time.perf_counter()
        for _ in ds.take(steps):
            pass
    elif method == "seed":
        # The seed's Example 2, verbatim but for the size and the file list.
        def load_and_preprocess_image(image_path: tf.Tensor) -> tf.Tensor:
            image = tf.io.read_file(image_path)
            image = tf.io.decode_jpeg(image, channels=3)
            image = tf.image.resize(image, [size, size])
            image = tf.image.convert_image_dtype(image, tf.float32)
            return image

        ds = tf.data.Dataset.from_tensor_slices(files)
        ds = ds.map(load_and_preprocess_image, num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.batch(batch).prefetch(tf.data.AUTOTUNE)
        timed_from = start
        for _ in ds:
            pass
    else:
        import numpy as np

        images = np.stack([
            (tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(f), channels=3), [size, size]) / 255.0).numpy()
            for f in files
        ])
        ds = tf.data.Dataset.from_tensor_slices(images).batch(batch).prefetch(tf.data.AUTOTUNE)
        timed_from = start
        for _ in ds:
            pass
    end = time.perf_counter()
    return {
        "images_per_s": len(files) / (end - timed_from),
        "images_per_s_incl_scan": len(files) / (end - start),
        "scan_s": scan,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def child(argv: list[str]) -> int:
    method, folder, size, batch = argv[0], Path(argv[1]), int(argv[2]), int(argv[3])
    print("RESULT " + json.dumps(measure(method, folder, size, batch)))
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--file-pixels", type=int, default=32, help="side of the stored JPEGs")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "memtui-bench-data"))
    args = parser.parse_args()

    results: dict[tuple[str, int], dict[str, float]] = {}
    for count in args.sizes:
        folder = Path(args.cache) / f"{count}-{args.file_pixels}px"
        subprocess.run([sys.executable, "-c",
                        f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import data_pipeline as d; "
                        f"from pathlib import Path; d.generate(Path({str(folder)!r}), {count}, {args.file_pixels})"],
                       check=True, stderr=subprocess.DEVNULL)
        for method in METHODS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", method, str(folder), str(args.image_size), str(args.batch_size)],
                capture_output=True, text=True, check=True,
            ).stdout
            results[method, count] = json.loads(out.split("RESULT ", 1)[1])
            r = results[method, count]
            print(f"{count:>6} images  {method:<5}  {r['images_per_s']:9.0f} images/s"
                  f"  (incl. decode-check pre-pass {r['images_per_s_incl_scan']:7.0f}, pre-pass {r['scan_s']:.2f} s)"
                  f"  peak RSS {r['peak_rss'] / 2**20:7.0f} MiB", flush=True)

    small, large = min(args.sizes), max(args.sizes)
    print(f"\nimage size {args.image_size}, batch {args.batch_size}; one pass over the data per process")
    for count in args.sizes:
        ratio = results["ours", count]["images_per_s"] / results["seed", count]["images_per_s"]
        incl = results["ours", count]["images_per_s_incl_scan"] / results["seed", count]["images_per_s"]
        again = results["relaunch", count]["images_per_s_incl_scan"] / results["seed", count]["images_per_s"]
        print(f"throughput ours/seed at {count}: {ratio:.2f} (incl. pre-pass {incl:.2f}; "
              f"a relaunch incl. its remembered pre-pass {again:.2f})  (goal >= 1)")
    for method in METHODS:
        grow = results[method, large]["peak_rss"] / results[method, small]["peak_rss"]
        print(f"peak RSS {large}/{small} {method:<5}: {grow:.2f}" + ("  (goal <= 1.1)" if method == "ours" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
