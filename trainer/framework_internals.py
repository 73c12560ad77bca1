"""Every private name of Keras, tf.data, TensorFlow and JAX that memtui reads, in one place.

memtui runs inside the user's own, unpinned Keras (the script hook) as well as
its own trainer, so a private name can move under it. Each one is read here
only, through a function that never raises, and `probe()` checks them all
once (the hook runs it when the script imports Keras): what is missing comes
back as a named reason ("batch control off: Keras 3.16 moved tf.data's
`_batch_size`") that the hook puts in run_start's notes, where the screen and
the JSON show it. The unit tests in tests/ fail when a name moves in the
versions memtui installs.

Targets (checked by those tests): Keras 3.15, TensorFlow 2.21, JAX 0.10.

- `keras.callbacks.Callback._model`: the model without JAX's state sync (a stop
  from a signal); if moved, `Callback.model` (which syncs on JAX).
- `keras.Model._initial_epoch`: the epoch a BackupAndRestore resumed from, for
  run_start; if moved, not shown.
- `Trainer.compile` as the one `compile_from_config` compares with: load_model
  compiles the model; if moved, memtui leaves compile unpatched.
- tf.data `_batch_size`, `_input_dataset`: a pipeline's batch where its spec
  does not say; if moved, the batch is unknown (greyed keys, with this reason).
- TF eager context `_context_handle`, `_physical_devices`, and
  `jax._src.xla_bridge._backends`: whether a warm spare touched a device; if
  moved, unknown, and the spare starts cold.

Stdlib only: the script hook loads it by path.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

TARGETS = {"keras": "3.15", "tensorflow": "2.21", "jax": "0.10"}
_MISSING = object()


@dataclass(frozen=True)
class Missing:
    """One private name that is not where memtui expects it."""

    name: str  # e.g. "tf.data `_batch_size`"
    owner: str  # the package that moved it: "keras", "tensorflow", "jax"
    consequence: str  # what memtui does without it, in words

    def words(self) -> str:
        module = sys.modules.get(self.owner)
        version = getattr(module, "__version__", "?")
        label = {"keras": "Keras", "tensorflow": "TensorFlow", "jax": "JAX"}.get(self.owner, self.owner)
        return f"{self.consequence}: {label} {version} moved {self.name} (memtui targets {TARGETS.get(self.owner)})"


# -- the readers: each returns a default instead of raising ------------------------------------------

def callback_model(callback: Any) -> Any:
    """The model a callback was given, without `Callback.model`'s JAX state sync."""
    return getattr(callback, "_model", None)


def initial_epoch(model: Any) -> int | None:
    value = getattr(model, "_initial_epoch", None)
    return int(value) if isinstance(value, int) else None


def dataset_batch(dataset: Any) -> int | None:
    """The batch of a batched tf.data pipeline where a `batch()` step says it
    (map/prefetch/... keep the step before them in `_input_dataset`)."""
    node = dataset
    for _ in range(64):
        size = getattr(node, "_batch_size", None)
        if size is not None:
            try:
                return int(size.numpy()) if hasattr(size, "numpy") else int(size)
            except (TypeError, ValueError):
                return None
        node = getattr(node, "_input_dataset", None)
        if node is None:
            return None
    return None


def compile_owner(model_class: type) -> type | None:
    """The class whose `compile` Keras' `compile_from_config` compares a model's with
    (`self.__class__.compile != Trainer.compile`: a model whose compile differs is
    left uncompiled by load_model). memtui patches compile there, never on a
    subclass, so Keras still sees its own. None: the comparison's class is not found."""
    for klass in model_class.__mro__:
        if "compile_from_config" in klass.__dict__ and "compile" in klass.__dict__:
            return klass
    return None


def tf_devices_initialised() -> bool | None:
    """Whether TensorFlow set up its devices in this process; None: unknown."""
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.eager import context

        ctx = context.context()
        # The handle exists once the eager context is set up; the physical device
        # list once anything listed devices (which runs cuInit on a GPU machine).
        return ctx._context_handle is not None or ctx._physical_devices is not None
    except Exception:  # a private attribute: unknown rather than wrong
        return None


def jax_devices_initialised() -> bool | None:
    """Whether JAX started a backend in this process; None: unknown."""
    if sys.modules.get("jax") is None:
        return None
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge._backends)  # filled when the first device is asked for
    except Exception:  # a private attribute: unknown rather than wrong
        return None


# -- the probe ---------------------------------------------------------------------------------------

def _has(obj: Any, name: str) -> bool:
    return getattr(obj, name, _MISSING) is not _MISSING


def probe() -> list[Missing]:
    """Every private name of the frameworks this process has imported, checked once."""
    missing: list[Missing] = []
    keras = sys.modules.get("keras")
    if keras is not None:
        try:
            callback = keras.callbacks.Callback()
            if not _has(callback, "_model"):
                missing.append(Missing("`Callback._model`", "keras", "a stop reads `Callback.model` instead"))
            if compile_owner(keras.Model) is None:
                missing.append(Missing("the class `compile_from_config` compares `compile` with", "keras",
                                       "compile() patch off (XLA off, gradient accumulation)"))
            if not _has(keras.Model, "_initial_epoch") and "_initial_epoch" not in _init_names(keras):
                missing.append(Missing("`Model._initial_epoch`", "keras", "the resumed epoch is not shown"))
        except Exception as exc:  # a Keras too different to probe: say so once
            missing.append(Missing(f"its callbacks or Model ({type(exc).__name__})", "keras", "probe failed"))
    tf = sys.modules.get("tensorflow")
    if tf is not None and getattr(tf, "data", None) is not None:
        try:
            batched = tf.data.Dataset.range(4).batch(2)
            mapped = batched.map(lambda x: x)
            if not _has(batched, "_batch_size"):
                missing.append(Missing("tf.data `_batch_size`", "tensorflow",
                                       "batch control off for pipelines whose spec hides the batch"))
            if not _has(mapped, "_input_dataset"):
                missing.append(Missing("tf.data `_input_dataset`", "tensorflow",
                                       "batch control off for mapped pipelines whose spec hides the batch"))
        except Exception as exc:
            missing.append(Missing(f"tf.data ({type(exc).__name__})", "tensorflow", "probe failed"))
    return missing


def _init_names(keras: Any) -> set[str]:
    """The attributes a new Model sets (`_initial_epoch` is set in Trainer.__init__, not on the class)."""
    try:
        # Named: an auto-named probe would take "sequential" from the script's first model.
        return set(vars(keras.Sequential(name="memtui_probe")))
    except Exception:
        return set()
