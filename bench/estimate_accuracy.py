"""How close is the pre-flight estimate to measured memory? (issue 5)

Runs the real trainer (`python -m trainer`) briefly on CPU for both seed CNNs
at several batch sizes and compares `tui.kinds.estimate` with what it measured.

On a CPU-only machine the only measurement is the trainer's resident memory
(RSS, the `cpu_rss_peak` the trainer reports), which also holds TensorFlow's
runtime, the tf.data pipeline and oneDNN scratch space. So it prints:

* estimate ÷ measured peak RSS (whole process; expect well below 1), and
* the estimate's bytes per example ÷ the measured RSS growth per example (the
  slope of a least-squares line through the measured peaks, `calibrate`),
  which is the part of the estimate that the batch size drives.

    .venv/bin/python bench/estimate_accuracy.py [--image-size 64] [--batches 8 32 128] [--steps 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trainer.config import RunConfig  # noqa: E402
from tui.kinds.estimate import calibrate, estimate  # noqa: E402

MIB = 1 << 20


def measure(model: str, batch: int, image_size: int, steps: int) -> tuple[int, int, int]:
    """(peak RSS bytes, parameters the trainer reported, classes) of one short run."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        cmd = [sys.executable, "-m", "trainer", "--run-dir", str(run), "--model", model,
               "--batch-size", str(batch), "--image-size", str(image_size), "--epochs", "1",
               "--steps-per-epoch", str(steps)]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, timeout=900)
        events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if line.strip()]
    if proc.returncode != 0:
        raise SystemExit(f"trainer failed ({proc.returncode}) for {model} batch {batch}: {proc.stderr[-500:]}")
    start = next(e for e in events if e["type"] == "run_start")
    peaks = [e["memory"].get("cpu_rss_peak", 0) for e in events if e["type"] == "step"]
    end = next((e for e in events if e["type"] == "run_end"), {})
    peak = max([*peaks, end.get("peak_memory") or 0])
    return peak, start["params"], start["dataset"].get("classes", 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--steps", type=int, default=2)
    ns = parser.parse_args()
    print(f"CPU run, image {ns.image_size}x{ns.image_size}, {ns.steps} steps; measured = trainer peak RSS")
    print(f"{'model':<6} {'batch':>5} {'params ok':>9} {'estimate MiB':>12} {'RSS MiB':>9} {'est/RSS':>8}")
    for model in ("small", "large"):
        points: list[tuple[int, int]] = []
        per_example = 0
        for batch in ns.batches:
            peak, params, classes = measure(model, batch, ns.image_size, ns.steps)
            est = estimate(RunConfig(model=model, batch_size=batch, image_size=ns.image_size), classes=classes)
            per_example = est.per_example_bytes
            points.append((batch, peak))
            print(f"{model:<6} {batch:>5} {params == est.params!s:>9} {est.peak_bytes / MIB:>12.1f} "
                  f"{peak / MIB:>9.1f} {est.peak_bytes / peak:>8.3f}", flush=True)
        fit = calibrate(points)
        slope_ratio = per_example / fit.slope if fit.slope > 0 else float("nan")
        print(f"{model:<6} per example: estimate {per_example / MIB:.2f} MiB, measured RSS slope "
              f"{fit.slope / MIB:.2f} MiB, ratio {slope_ratio:.3f}; RSS intercept {fit.intercept / MIB:.0f} MiB")


if __name__ == "__main__":
    main()
