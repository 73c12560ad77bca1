"""What `fit()` got as `x`, its batch size, and memtui's batch remedy on it.

- in-memory arrays (NumPy, tensors, lists/dicts of them): the batch is fit's
  `batch_size` (Keras' default 32); memtui sets `batch_size` ("arrays").
- a `tf.data.Dataset` (already batched: fit requires it): the batch is read
  from the pipeline where it is static or a `batch()` step says it; memtui
  calls `dataset.rebatch(n)` on it and on a validation dataset ("rebatch").
  An explicit `steps_per_epoch` then covers fewer samples.
- a `PyDataset`, a generator, anything else: the batch is unknown and cannot
  be set from outside, unless the command has `{batch_size}` ("placeholder").
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any

KERAS_DEFAULT_BATCH = 32


@dataclass
class FitInput:
    kind: str  # "arrays" | "tf.data" | "PyDataset" | "generator" | "other"
    control: str | None  # "arrays" | "rebatch" | "placeholder" | None
    batch_size: int | None


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
    node = ds
    for _ in range(64):  # map/prefetch/... keep the step before them in _input_dataset
        size = getattr(node, "_batch_size", None)
        if size is not None:
            return int(size.numpy()) if hasattr(size, "numpy") else int(size)
        node = getattr(node, "_input_dataset", None)
        if node is None:
            return None
    return None


def apply_batch(arguments: dict[str, Any], settings: Any) -> FitInput:
    """Set the batch in fit's bound `arguments` (a copy the caller owns) when
    asked; say what the input is and its batch as it will train."""
    x = arguments.get("x")
    kind = kind_of(x)
    wanted = None if settings.batch_placeholder else settings.batch_size
    if kind == "arrays":
        if wanted is not None:
            arguments["batch_size"] = wanted
        batch = arguments.get("batch_size") or KERAS_DEFAULT_BATCH
        return FitInput(kind, "placeholder" if settings.batch_placeholder else "arrays", batch)
    if kind == "tf.data":
        if wanted is not None:
            arguments["x"] = x.rebatch(wanted)
            validation = arguments.get("validation_data")
            tf = sys.modules["tensorflow"]
            if isinstance(validation, tf.data.Dataset):
                arguments["validation_data"] = validation.rebatch(wanted)
            return FitInput(kind, "rebatch", wanted)
        return FitInput(kind, "placeholder" if settings.batch_placeholder else "rebatch", dataset_batch(x))
    if settings.batch_placeholder:
        return FitInput(kind, "placeholder", settings.batch_size)
    return FitInput(kind, None, None)
