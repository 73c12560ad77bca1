"""What `fit()` got as `x`, its batch size, and memtui's batch remedy on it.

- in-memory arrays (NumPy, tensors, lists/dicts of them): the batch is fit's
  `batch_size` (Keras' default 32); memtui sets `batch_size` ("arrays").
- a `tf.data.Dataset` (already batched: fit requires it): the batch is read
  from the pipeline where it is static or a `batch()` step says it; memtui
  calls `dataset.rebatch(n)` on it and on a validation dataset ("rebatch").
  An explicit `steps_per_epoch` then covers fewer samples.
- a `PyDataset`, a generator, anything else: the batch is unknown and cannot
  be set from outside, unless the command has `{batch_size}` ("placeholder").

The change is checked before it is made: a batch the script's own device
mesh (keras.distribution) cannot split, or a pipeline that refuses to be
re-batched, is refused with the reason and fit() gets the script's own batch.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any

from _memtui_hook.trainer_files import load

KERAS_DEFAULT_BATCH = 32
_internals = load("framework_internals")


@dataclass
class FitInput:
    kind: str  # "arrays" | "tf.data" | "PyDataset" | "generator" | "other"
    control: str | None  # "arrays" | "rebatch" | "placeholder" | None
    batch_size: int | None
    refused: str | None = None  # why the asked-for batch was not applied


def kind_of(x: Any) -> str:
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(x, tf.data.Dataset):
        return "tf.data"
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(x, keras.utils.PyDataset):
        return "PyDataset"
    if inspect.isgenerator(x) or (hasattr(x, "__next__") and hasattr(x, "__iter__")):
        return "generator"
    module = type(x).__module__.split(".")[0]
    if module == "torch":
        return "other"
    return "arrays"


def dataset_batch(ds: Any) -> int | None:
    """The batch of a batched tf.data pipeline, where the pipeline says it."""
    tf = sys.modules["tensorflow"]
    first = tf.nest.flatten(ds.element_spec)[0]
    if first.shape.rank and first.shape[0] is not None:
        return int(first.shape[0])
    return _internals.dataset_batch(ds)


def _mesh_refusal(batch: int) -> str | None:
    """Why `batch` cannot be fed to the script's own data-parallel distribution, if it cannot."""
    keras = sys.modules.get("keras")
    try:
        distribution = keras.distribution.distribution() if keras is not None else None
        devices = int(distribution.device_mesh.devices.size) if distribution is not None else 0
    except Exception:  # no distribution API (TensorFlow backend) or no mesh: nothing to split over
        return None
    if devices > 1 and batch % devices:
        return (f"a batch of {batch} cannot be split over the {devices} devices of the script's "
                f"keras.distribution (it must be a multiple of {devices})")
    return None


def apply_batch(arguments: dict[str, Any], settings: Any) -> FitInput:
    """Set the batch in fit's bound `arguments` (a copy the caller owns) when
    asked and safe; say what the input is and its batch as it will train."""
    x = arguments.get("x")
    kind = kind_of(x)
    wanted = None if settings.batch_placeholder else settings.batch_size
    refused = _mesh_refusal(wanted) if wanted is not None and kind in ("arrays", "tf.data") else None
    if refused is not None:
        wanted = None
    if kind == "arrays":
        if wanted is not None:
            arguments["batch_size"] = wanted
        batch = arguments.get("batch_size") or KERAS_DEFAULT_BATCH
        return FitInput(kind, "placeholder" if settings.batch_placeholder else "arrays", batch, refused)
    if kind == "tf.data":
        if wanted is not None:
            try:
                rebatched = x.rebatch(wanted)
                validation = arguments.get("validation_data")
                tf = sys.modules["tensorflow"]
                if isinstance(validation, tf.data.Dataset):
                    arguments["validation_data"] = validation.rebatch(wanted)
            except Exception as exc:
                refused = f"the tf.data pipeline could not be re-batched ({type(exc).__name__}: {str(exc)[:200]})"
            else:
                arguments["x"] = rebatched
                return FitInput(kind, "rebatch", wanted)
        return FitInput(kind, "placeholder" if settings.batch_placeholder else "rebatch", dataset_batch(x), refused)
    if settings.batch_placeholder:
        return FitInput(kind, "placeholder", settings.batch_size)
    if settings.batch_size is not None:
        refused = (f"the script feeds fit() a {kind}, which makes its own batches; put {{batch_size}} in the "
                   "command where the script takes its batch")
    return FitInput(kind, None, None, refused)
