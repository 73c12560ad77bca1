"""One training attempt: devices, data, model, resume, fit.

Imported only after the pre-TensorFlow set-up in `__main__` (address-space
limit, signal handlers, environment), because importing this module imports
TensorFlow. `train` returns the exit code for a normal ending or a graceful
stop; OOM and other failures propagate to `__main__`, which names them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from trainer import backends
from trainer import data as data_mod
from trainer.backends import ENV_SHOWN as BACKEND_ENV
from trainer.config import RunConfig, training_image_size
from trainer.demo import cache_root, demo_folder
from trainer.distributed import this_worker
from trainer.eventlog import EventLog
from trainer.events import EventCallback
from trainer.memory import MemoryReader, apply_memory_settings, describe_devices, make_strategy
from trainer.models import build_model
from trainer.protocol import ExitCode
from trainer.resume import Backup, epoch_end_callback
from trainer.signals import StopFlag

PRINT_HOOK_ENV = "MEMTUI_TRAINER_PRINT"  # debugging hook: the model prints on every step
ENV_SHOWN = (*BACKEND_ENV, "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")


@dataclass
class Progress:
    """What `__main__` needs to write run_end when training ends by an exception."""

    callback: EventCallback | None = None
    memory: MemoryReader | None = None
    model: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return self.callback.completed_steps if self.callback else 0

    def peak(self) -> int | None:
        if self.callback is not None:
            return self.callback.read_peak()
        if self.memory is not None:
            return MemoryReader.peak_of(self.memory.read())
        return None

    def iterations(self) -> int | None:
        try:
            return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        except Exception:  # no model or optimizer yet: unknown, not zero
            return None


def _note(progress: Progress, text: str) -> None:
    progress.notes.append(text)
    print(f"memtui trainer: {text}", file=sys.stderr, flush=True)


def _choose_data(cfg: RunConfig, has_gpu: bool, progress: Progress) -> tuple[str, int]:
    """The folder to train on and the image size; the demo shrinks images on CPU."""
    if cfg.data is not None:
        return cfg.data, cfg.image_size
    image_size = training_image_size(cfg, has_gpu)
    if image_size != cfg.image_size:
        _note(progress, f"demo on a CPU-only host: training at {image_size}x{image_size} instead of "
                        f"{cfg.image_size}x{cfg.image_size} so it stays quick; pass --image-size to choose")
    return str(demo_folder()), image_size


def _optimizer(cfg: RunConfig) -> Any:
    accumulation = cfg.grad_accum if cfg.grad_accum > 1 else None
    return keras.optimizers.Adam(learning_rate=cfg.learning_rate, gradient_accumulation_steps=accumulation)


def _backend_version() -> dict[str, str]:
    """jax_version on the JAX backend (TensorFlow's version is always there: it feeds the data)."""
    backend = backends.active()
    return backend.version() if backend is not None else {}


def train(cfg: RunConfig, run_dir: Path, log: EventLog, stop: StopFlag, progress: Progress) -> int:
    worker = this_worker() if cfg.workers > 1 else None
    if worker is not None:
        from trainer import group

        group.join(worker)  # before Keras or JAX computes anything
    setup = apply_memory_settings(cfg)
    for note in setup.notes:
        _note(progress, note)
    progress.memory = MemoryReader()
    stop.check()

    root, image_size = _choose_data(cfg, bool(setup.gpus), progress)
    folder = data_mod.drop_undecodable(data_mod.list_image_folder(root), cache_root() / "decodable")
    if folder.skipped:
        _note(progress, f"skipped {folder.skipped} file(s) that are not decodable images, "
                        f"e.g. {', '.join(folder.skipped_examples)}")
    train_idx, val_idx = data_mod.split(folder, cfg.validation_split, cfg.seed)
    # Steps count global batches of all the files, the same on every worker; each feeds its share.
    steps_in_epoch = data_mod.steps_per_epoch(cfg, len(train_idx))
    if worker is not None:
        train_idx, val_idx = _shares(train_idx, val_idx, worker)
    train_ds = data_mod.make_dataset(folder, train_idx, cfg, image_size, training=True, batch_size=cfg.worker_batch)
    val_ds = (data_mod.make_dataset(folder, val_idx, cfg, image_size, training=False, batch_size=cfg.worker_batch)
              if val_idx else None)
    stop.check()

    keras.utils.set_random_seed(cfg.seed)
    strategy = make_strategy(cfg)
    with strategy.scope():
        model = build_model(cfg.model, image_size, len(folder.class_names),
                            print_each_step=os.environ.get(PRINT_HOOK_ENV) == "1")
        model.compile(optimizer=_optimizer(cfg), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        progress.model = model
        backup = Backup.for_run(cfg, run_dir, image_size, len(folder.class_names))
        if worker is not None:
            backup = backup.worker(worker.rank, run_dir)  # only rank 0 writes the run's backup
        saved = backup.state()
        done = saved is not None and int(saved.get("epoch", 0)) >= cfg.epochs
        if done:
            _note(progress, f"the backup in {backup.folder} is already at epoch {saved['epoch']}; starting fresh")
            backup.clear()
        state = None if done else backup.restore(model)
    initial_epoch = int(state["epoch"]) if state else 0
    resumed_steps = int(state.get("steps", 0)) if state else 0
    if state is not None:
        _note(progress, f"resuming from {backup.folder} at epoch {initial_epoch + 1} ({resumed_steps} steps done)")

    callback = EventCallback(log, cfg.batch_size, steps_in_epoch, progress.memory, stop, initial_epoch)
    if worker is not None:
        from trainer.group import GroupStop

        callback.group_stop = GroupStop(run_dir, worker)
    progress.callback = callback
    group_fields = _group_fields(worker, cfg)
    log.emit(
        "run_start",
        config=cfg.to_dict(),
        params=int(model.count_params()),
        devices=describe_devices(cfg.backend),
        backend=keras.backend.backend(),
        tf_version=tf.__version__,
        keras_version=keras.__version__,
        **_backend_version(),
        memory_growth=cfg.memory_growth,
        gpu_memory_limit=setup.gpu_memory_limit,
        dataset={**folder.summary(), "train": len(train_idx), "validation": len(val_idx)},
        image_size=image_size,
        steps_in_epoch=steps_in_epoch,
        dtype_policy=keras.config.dtype_policy().name,
        output_dtype=model.layers[-1].compute_dtype,
        optimizer={"name": "adam", "learning_rate": cfg.learning_rate,
                   "gradient_accumulation_steps": cfg.grad_accum},
        effective_batch=cfg.effective_batch,
        strategy=cfg.strategy,
        replicas=int(group_fields.get("global_devices", strategy.num_replicas_in_sync)),
        **group_fields,
        env={k: os.environ[k] for k in ENV_SHOWN if k in os.environ},
        resumed_from={"epoch": initial_epoch, "steps": resumed_steps, "backup": str(backup.folder)}
        if state else None,
        backup=str(backup.folder),
        pid=os.getpid(),
        notes=progress.notes,
    )
    stop.check()

    model.fit(
        train_ds,
        epochs=cfg.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_in_epoch,
        shuffle=False,  # the pipeline shuffles file names itself
        validation_data=val_ds,
        callbacks=[callback, epoch_end_callback(backup, callback, resumed_steps)],
        verbose=0,
    )
    total_steps = resumed_steps + callback.steps
    end = {"steps": callback.steps, "total_steps": total_steps, "peak_memory": callback.read_peak(),
           "optimizer_iterations": progress.iterations()}
    if callback.stopped_in_epoch is not None:
        # Restart the interrupted epoch unless its last step had just finished.
        at = callback.stopped_in_epoch + (1 if callback.stopped_at_epoch_end else 0)
        backup.save(model, at, total_steps, f"stopped by {stop.signal_name}")
        log.emit("run_end", status="stopped", backup=str(backup.folder), resume_epoch=at, **end)
        return ExitCode.STOPPED
    backup.clear()
    log.emit("run_end", status="finished", **end)
    return ExitCode.FINISHED



def _shares(train_idx: list[int], val_idx: list[int], worker: Any) -> tuple[list[int], list[int]]:
    from trainer import group

    return group.share(train_idx, worker), group.even_share(val_idx, worker)


def _group_fields(worker: Any, cfg: RunConfig) -> dict[str, Any]:
    from trainer import group

    return group.describe(worker, cfg)
