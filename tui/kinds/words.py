"""A run's settings in words, in the four forms the front ends use.

Here, with the kinds, because what is worth saying depends on the kind (the
built-in trainer has a model and an image size; a script has a command).
"""

from __future__ import annotations

from trainer.config import RunConfig

# TensorFlow is the default backend and goes unnamed, so the words of the runs
# that use it stay as they were; another backend is named first, where it cannot
# be cut off.
BACKEND_WORDS = {"jax": "JAX"}


def _backend(cfg: RunConfig) -> str | None:
    return BACKEND_WORDS.get(getattr(cfg, "backend", "tensorflow"))


def header_words(cfg: RunConfig) -> str:
    """The settings that decide memory, in one line."""
    on = f"Keras on {name} · " if (name := _backend(cfg)) else ""
    return on + (
        f"model {cfg.model} · batch {cfg.batch_size} · growth {'on' if cfg.memory_growth else 'off'} · "
        f"{'fp16 mixed' if cfg.mixed_precision else 'fp32'} · accum ×{cfg.grad_accum} · "
        f"effective {cfg.effective_batch}"
    )


def table_words(cfg: RunConfig) -> str:
    """A compact form for the history table: 'small b32 fp32 ×1 growth'."""
    parts = [cfg.model, f"b{cfg.batch_size}", "fp16" if cfg.mixed_precision else "fp32"]
    if name := _backend(cfg):
        parts.insert(0, name.lower())
    if cfg.grad_accum > 1:
        parts.append(f"×{cfg.grad_accum}")
    if cfg.memory_growth:
        parts.append("grow")
    return " ".join(parts)


def tag_words(cfg: RunConfig) -> str:
    """The settings that decide memory, in a few words: `small b32 256px growth fp16 ×4`."""
    parts = [cfg.model, f"b{cfg.batch_size}", f"{cfg.image_size}px"]
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
    return " ".join(parts)


def sentence_words(cfg: RunConfig) -> str:
    """The settings in a sentence, for headless mode's start line."""
    parts = [f"Keras on {name}"] if (name := _backend(cfg)) else []
    parts += [
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
