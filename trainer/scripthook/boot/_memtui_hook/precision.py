"""The way back from memtui's mixed precision, for a fit() it breaks at its start.

memtui sets `mixed_float16` as Keras loads, before the script builds a model
(`devices.after_keras`). A script not written for float16 can then fail in its
first train step, while Keras traces it, before any weight changes: a float32
tensor it makes itself meets a float16 one (`keras.random.normal`'s default
dtype in a sampling layer, `tf.concat` of generated and real images in a GAN's
train_step: "Input 'y' of 'Mul' Op has type float32 that does not match type
float16"). Found by the transparency corpus (tests/transparency/).

`undo` puts every layer of the model that runs with memtui's policy back on the
policy the script had (the variables are float32 under both, so nothing is
lost), and the global policy too, and drops the model's traced train, test and
predict functions (the failed trace leaves a broken one), so the fit() can run
again as the script wrote it; later models are built as without memtui. It is tried only when the
error names float16 (`mentions_float16`): any other error at the start is the
script's own, and stays so.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from _memtui_hook.state import HookState

MIXED = "mixed_float16"


def mentions_float16(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return "float16" in text or "half" in text.lower()


def undo(keras: ModuleType, state: HookState, model: Any) -> bool:
    """Whether memtui's policy was taken off `model` and Keras (False: memtui did not set it)."""
    before = state.policy_before
    if before is None:
        return False
    layers = list(model._flatten_layers(include_self=True, recursive=True))
    for layer in layers:
        if getattr(getattr(layer, "dtype_policy", None), "name", None) == MIXED:
            layer.dtype_policy = before
    if keras.config.dtype_policy().name == MIXED:
        keras.config.set_dtype_policy(before)
    for name in ("train_function", "test_function", "predict_function"):
        if getattr(model, name, None) is not None:
            setattr(model, name, None)  # traced in float16 (or half-traced when it failed): traced again
    state.policy_before = None
    return True
