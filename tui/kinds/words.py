"""A run's settings in words, in the four forms the front ends use.

Here, with the kinds, because what is worth saying depends on the kind (the
built-in trainer has a model and an image size; a script has a command).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainer.config import RunConfig
from trainer.hosts import parse_hosts
from tui.kinds.script import command_words

# TensorFlow is the default backend and goes unnamed, so the words of the runs
# that use it stay as they were; another backend is named first, where it cannot
# be cut off.
BACKEND_WORDS = {"jax": "JAX"}


def backend_name(backend: str | None) -> str:
    """A Keras backend's name for people, TensorFlow included: "TensorFlow", "JAX"."""
    if backend is None:
        return "a backend not known yet"
    return BACKEND_WORDS.get(backend, "TensorFlow" if backend == "tensorflow" else backend)


def _backend(cfg: RunConfig) -> str | None:
    return BACKEND_WORDS.get(getattr(cfg, "backend", "tensorflow"))


def header_words(cfg: RunConfig, width: int | None = None) -> str:
    """The settings that decide memory, in one line (a script's command shortened to `width`)."""
    on = f"Keras on {name} · " if (name := _backend(cfg)) else ""
    if cfg.workers > 1:  # the world size and each worker's share of the (global) batch
        count = len(set(parse_hosts(cfg.hosts))) if cfg.hosts else 0
        hosts = f" on {count} host{'s' if count > 1 else ''}" if count else ""
        on += f"{cfg.workers} workers{hosts} × batch {cfg.worker_batch} · "
    if cfg.script is not None:
        return on + _script_header(cfg, None if width is None else width - len(on))
    return on + (
        f"model {cfg.model} · batch {cfg.batch_size} · growth {'on' if cfg.memory_growth else 'off'} · "
        f"{'fp16 mixed' if cfg.mixed_precision else 'fp32'} · accum ×{cfg.grad_accum} · "
        f"effective {cfg.effective_batch}"
    )


def table_words(cfg: RunConfig) -> str:
    """A compact form for the history table: 'small b32 fp32 ×1 growth'."""
    model = _script_model(cfg) if cfg.script is not None else cfg.model
    parts = [model, _batch_tag(cfg), "fp16" if cfg.mixed_precision else "fp32"]
    if name := _backend(cfg):
        parts.insert(0, name.lower())
    if cfg.grad_accum > 1:
        parts.append(f"×{cfg.grad_accum}")
    if cfg.memory_growth:
        parts.append("grow")
    if cfg.workers > 1:
        parts.append(f"{cfg.workers}w")
    return " ".join(parts)


def tag_words(cfg: RunConfig) -> str:
    """The settings that decide memory, in a few words: `small b32 256px growth fp16 ×4`
    (a script: `script b64 fp16`, its command being listed apart)."""
    parts = ["script", _batch_tag(cfg)] if cfg.script is not None else [
        cfg.model, f"b{cfg.batch_size}", f"{cfg.image_size}px"]
    if cfg.script is not None and not cfg.script.xla:
        parts.append("no-xla")
    if name := _backend(cfg):
        parts.insert(0, name.lower())
    if cfg.memory_growth:
        parts.append("growth")
    if cfg.gpu_memory_limit:
        parts.append(f"cap{cfg.gpu_memory_limit}M")
    if cfg.mixed_precision:
        parts.append("fp16")
    if cfg.grad_accum > 1:
        parts.append(f"×{cfg.grad_accum}")
    if cfg.strategy != "default":
        parts.append(cfg.strategy)
    if cfg.workers > 1:
        parts.append(f"{cfg.workers}w")
    return " ".join(parts)


def sentence_words(cfg: RunConfig) -> str:
    """The settings in a sentence, for headless mode's start line."""
    on = [f"Keras on {name}"] if (name := _backend(cfg)) else []
    if cfg.script is not None:
        return ", ".join([*on, _script_sentence(cfg)])
    parts = [
        *on,
        f"model {cfg.model}",
        f"{cfg.image_size} px",
        f"batch {cfg.batch_size}" + (f" × accumulate {cfg.grad_accum}" if cfg.grad_accum > 1 else ""),
        f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}"
        + (f" × {cfg.steps_per_epoch} steps" if cfg.steps_per_epoch else ""),
        "data " + (cfg.data or "built-in demo"),
    ]
    if cfg.memory_growth:
        parts.append("memory growth")
    if cfg.mixed_precision:
        parts.append("mixed precision")
    if cfg.gpu_memory_limit:
        parts.append(f"GPU limit {cfg.gpu_memory_limit} MB")
    if cfg.host_memory_limit:
        parts.append(f"host limit {cfg.host_memory_limit} MB")
    return ", ".join(parts)


# --- the user's own script -----------------------------------------------------------


def _batch_tag(cfg: RunConfig) -> str:
    return "b?" if cfg.script is not None and not _batch_known(cfg) else f"b{cfg.batch_size}"


def _batch_known(cfg: RunConfig) -> bool:
    return cfg.script is None or cfg.script.set_batch or cfg.script.batch_known


def _script_model(cfg: RunConfig) -> str:
    return cfg.script.model if cfg.script is not None and cfg.script.model else "script"


def batch_words(cfg: RunConfig) -> str:
    """`batch 64`, or what is known of a script's batch."""
    if _batch_known(cfg):
        return f"batch {cfg.batch_size}"
    return "batch: the script's own"


def _script_settings(cfg: RunConfig) -> list[str]:
    parts = [batch_words(cfg)]
    if cfg.memory_growth:
        parts.append("growth on")
    if cfg.gpu_memory_limit:
        parts.append(f"GPU cap {cfg.gpu_memory_limit} MB")
    parts.append("fp16 mixed" if cfg.mixed_precision else "fp32")
    if cfg.grad_accum > 1:
        parts.append(f"accum ×{cfg.grad_accum}")
    if cfg.script is not None and not cfg.script.xla:
        parts.append("XLA off")
    return parts


def _script_header(cfg: RunConfig, width: int | None) -> str:
    assert cfg.script is not None
    parts = _script_settings(cfg)
    if cfg.script.model:
        parts.insert(0, f"model {cfg.script.model}")
    rest = " · ".join(parts)
    room = None if width is None else max(12, width - len(rest) - 5)
    return f"$ {command_words(cfg.script.argv, room)} · {rest}"


def _script_sentence(cfg: RunConfig) -> str:
    assert cfg.script is not None
    parts = [f"your command `{command_words(cfg.script.argv)}` in {cfg.script.workdir}", *_script_settings(cfg)]
    if cfg.host_memory_limit:
        parts.append(f"host limit {cfg.host_memory_limit} MB")
    if cfg.steps_per_epoch:
        parts.append(f"at most {cfg.steps_per_epoch} steps per epoch")
    return ", ".join(parts)


def fit_start_words(raw: Mapping[str, Any]) -> str:
    """A script's run_start in one line: `fit() 1 started: model m, 1,234 parameters, batch 64 (in-memory
    arrays), float32, on CPU:0`."""
    phase = raw.get("phase")
    parts = []
    if raw.get("model"):
        parts.append(f"model {raw['model']}")
    if isinstance(raw.get("params"), int) and raw["params"]:
        parts.append(f"{raw['params']:,} parameters")
    batch = raw.get("batch_size")
    how = _CONTROL_WORDS.get(raw.get("batch_control"), "memtui cannot set it")
    parts.append(f"batch {batch if batch else '?'} ({how})")
    if raw.get("dtype_policy"):
        parts.append(str(raw["dtype_policy"]))
    if isinstance(raw.get("grad_accum"), int) and raw["grad_accum"] > 1:
        parts.append(f"accumulating ×{raw['grad_accum']}")
    if raw.get("jit_compile") is not None:
        parts.append("XLA on" if raw["jit_compile"] else "XLA off")
    devices = raw.get("devices")
    if isinstance(devices, list) and devices:
        parts.append("on " + ", ".join(str(d.get("name", "?")) for d in devices if isinstance(d, dict)))
    what = "training loop" if raw.get("input") == "loop" else "fit()"  # a loop without fit() (the hook's loops.py)
    label = f"{what} {phase}" if isinstance(phase, int) and phase > 1 else what
    return f"{label} started: " + ", ".join(parts)


_CONTROL_WORDS = {
    "arrays": "in-memory arrays: memtui can set it",
    "rebatch": "a tf.data pipeline: memtui can re-batch it",
    "placeholder": "{batch_size} in the command",
}
