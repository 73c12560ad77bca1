"""Trainer overhead: steps/s with the trainer's event callback ÷ a bare model.fit.

Same compiled model, same tf.data pipeline (the trainer's), same batch, in one
process; the two modes alternate over several trials after a warm-up and the
median ratio is reported, so machine noise hits both sides alike. Goal >= 0.99.

    .venv/bin/python bench/trainer_overhead.py [--image-size 32] [--batch-size 32] [--steps 100] [--trials 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100, help="steps per timed fit")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--model", default="small", choices=("small", "large"))
    args = parser.parse_args()

    import keras
    from tinydata import make_image_folder

    from trainer import data as data_mod
    from trainer.config import RunConfig
    from trainer.eventlog import EventLog
    from trainer.events import EventCallback
    from trainer.memory import MemoryReader
    from trainer.models import build_model
    from trainer.signals import StopFlag

    tmp = Path(tempfile.mkdtemp(prefix="memtui-bench-"))
    root = make_image_folder(tmp / "data", classes=4, per_class=32, size=args.image_size)
    cfg = RunConfig(data=str(root), image_size=args.image_size, batch_size=args.batch_size,
                    steps_per_epoch=args.steps)
    folder = data_mod.drop_undecodable(data_mod.list_image_folder(root))
    ds = data_mod.make_dataset(folder, list(range(folder.files)), cfg, args.image_size, training=True)
    model = build_model(args.model, args.image_size, len(folder.class_names))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    log = EventLog(tmp)
    callback = EventCallback(log, args.batch_size, args.steps, MemoryReader(), StopFlag())

    def timed(callbacks: list) -> tuple[float, float]:
        """(steps per wall second, steps per CPU second of this whole process)."""
        cpu0, start = time.process_time(), time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=args.steps, callbacks=callbacks, verbose=0, shuffle=False)
        return args.steps / (time.perf_counter() - start), args.steps / (time.process_time() - cpu0)

    timed([])  # warm-up: tracing and the first pipeline fill
    timed([callback])
    bare: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    for trial in range(args.trials):
        order = [(bare, []), (ours, [callback])]
        for sink, cbs in order if trial % 2 == 0 else order[::-1]:
            sink.append(timed(cbs))
    wall = [o[0] / b[0] for o, b in zip(ours, bare, strict=True)]
    cpu = [o[1] / b[1] for o, b in zip(ours, bare, strict=True)]
    lines = len((tmp / "events.jsonl").read_text().splitlines())
    print(f"model={args.model} image={args.image_size} batch={args.batch_size} steps={args.steps} "
          f"trials={args.trials}; {lines} event lines written")
    for name, i in (("wall", 0), ("cpu", 1)):
        b = statistics.median(x[i] for x in bare)
        o = statistics.median(x[i] for x in ours)
        print(f"{name:4} steps/s: bare model.fit {b:8.2f}  with event callback {o:8.2f}  (medians)")
    print(f"ratio ours/bare, wall time: {statistics.median(wall):.3f} median; per trial "
          + " ".join(f"{r:.3f}" for r in wall))
    print(f"ratio ours/bare, CPU time : {statistics.median(cpu):.3f} median; per trial "
          + " ".join(f"{r:.3f}" for r in cpu) + "  (goal >= 0.99; CPU time is less hurt by other load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
