"""Resume: a backup of weights, optimizer state and position, keyed by shape.

Keras' BackupAndRestore saves only at epoch ends or every N batches, and its
saving method is private, so a graceful stop could not save where it stopped.
This is the same idea with one more entry point: `Backup.save` can be called
after `fit` returns on a stop. The folder is keyed by what makes a backup
loadable (model, image size, classes, precision, accumulation): a relaunch
with a smaller batch or memory growth resumes; a different architecture gets
its own folder and starts fresh.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from trainer.config import RunConfig

WEIGHTS = "latest.weights.h5"
STATE = "state.json"


def backup_key(cfg: RunConfig, image_size: int, classes: int) -> str:
    precision = "mixed16" if cfg.mixed_precision else "float32"
    return f"{cfg.model}-{image_size}px-{classes}classes-{precision}-accum{cfg.grad_accum}"


class Backup:
    def __init__(self, folder: str | Path, scratch: str | Path | None = None) -> None:
        self.folder = Path(folder)
        # A worker other than rank 0 of a group reads rank 0's backup but saves to a scratch
        # folder of its own: saving is a collective on JAX (every rank must take part), while
        # only rank 0 may write what the run keeps.
        self.scratch = Path(scratch) if scratch is not None else None

    def worker(self, rank: int, run_dir: str | Path) -> Backup:
        """This backup as rank `rank` of a group uses it."""
        return self if rank == 0 else Backup(self.folder, Path(run_dir) / f".backup-scratch.rank{rank}")

    @classmethod
    def for_run(cls, cfg: RunConfig, run_dir: str | Path, image_size: int, classes: int) -> Backup:
        base = Path(cfg.backup_dir).expanduser() if cfg.backup_dir else Path(run_dir) / "backup"
        return cls(base / backup_key(cfg, image_size, classes))

    def state(self) -> dict[str, Any] | None:
        try:
            state = json.loads((self.folder / STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not (self.folder / WEIGHTS).exists() or not isinstance(state, dict):
            return None
        return state

    def restore(self, model: Any) -> dict[str, Any] | None:
        """Load the saved weights and optimizer state; the saved position, or None."""
        state = self.state()
        if state is None:
            return None
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(str(self.folder / WEIGHTS))
        return state

    def save(self, model: Any, epoch: int, total_steps: int, reason: str) -> None:
        """Weights (with optimizer state) and the epoch to restart at; written
        to temporary names first so a kill mid-save leaves the old backup."""
        folder = self.scratch or self.folder
        folder.mkdir(parents=True, exist_ok=True)
        tmp_weights = folder / f"tmp-{os.getpid()}.weights.h5"
        model.save_weights(str(tmp_weights), overwrite=True)
        os.replace(tmp_weights, folder / WEIGHTS)
        iterations = 0
        if model.optimizer is not None:
            import keras

            iterations = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        state = {"epoch": epoch, "steps": total_steps, "optimizer_iterations": iterations, "reason": reason}
        tmp_state = folder / f"{STATE}.tmp"
        tmp_state.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp_state, folder / STATE)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def clear(self) -> None:
        shutil.rmtree(self.scratch or self.folder, ignore_errors=True)


def epoch_end_callback(backup: Backup, counter: Any, resumed_steps: int) -> Any:
    """A Keras callback saving the backup after every completed epoch;
    `counter.steps` gives the steps run in this process."""
    import keras

    class SaveEachEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            # On a stop Keras still ends the partial epoch; the trainer saves
            # that position itself, so the partial epoch is not marked done.
            if not self.model.stop_training:
                backup.save(self.model, epoch + 1, resumed_steps + counter.steps, "epoch end")

    return SaveEachEpoch()
