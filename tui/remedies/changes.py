"""Remedies for out-of-memory: pure functions from one RunConfig to the next.

The remedy table (`tui.remedies.table`) names them; screen keys, automatic
recovery and headless mode reach them through it, so the words in
`Change.reason` are what users read ("halve the batch 64 → 32,
accumulate ×2: effective batch stays 64"). A remedy that cannot change
anything raises `NoRemedy` with the reason in words instead of returning the
same config.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainer.config import GRAD_ACCUM_MAX, ConfigError, RunConfig
from tui.common.backendwords import words_for
from tui.kinds import ACCUMULATION, XLA, kind_for, kind_of


class NoRemedy(Exception):
    """This remedy changes nothing for this config; the message says why."""


@dataclass(frozen=True)
class Change:
    """A new config and the words that explain it. `id` names the remedy."""

    config: RunConfig
    reason: str
    id: str = ""


def halve_batch(cfg: RunConfig, keep_effective: bool = False, min_batch: int = 1) -> Change:
    """Halve the batch ("halve-batch"); with `keep_effective`, double accumulation so
    the examples per weight update stay (about) the same ("halve-batch-accum")."""
    kind = kind_for(cfg)
    if not kind.batch_known(cfg):
        raise NoRemedy("the script's batch is not known yet, so it cannot be halved; give --batch-size N")
    new_batch = max(min_batch, cfg.batch_size // 2)
    if cfg.workers > 1:  # the global batch of a group: every worker keeps an equal share
        new_batch = max(cfg.workers, new_batch - new_batch % cfg.workers)
    if cfg.batch_size <= 1:
        raise NoRemedy("the batch is already 1; it cannot be halved")
    if new_batch >= cfg.batch_size:
        raise NoRemedy(f"the batch is {cfg.batch_size}; halving it would go below the minimum batch {min_batch}")
    setting = kind.setting_batch(cfg)  # a script that kept its own batch has memtui set it from now on
    if not keep_effective:
        return Change(_replace(setting, batch_size=new_batch), f"halve the batch {cfg.batch_size} → {new_batch}",
                      "halve-batch")
    if not (capable := kind_of(cfg)).allows(ACCUMULATION):
        # e.g. the hook refused accumulation for this script: halving alone is the ladder's later rung
        raise NoRemedy(capable.why_not(ACCUMULATION))
    accum = _doubled_accum(cfg)
    new = _replace(setting, grad_accum=accum, batch_size=new_batch)
    if new.effective_batch == cfg.effective_batch:
        tail = f"effective batch stays {cfg.effective_batch}"
    else:
        tail = f"effective batch {cfg.effective_batch} → {new.effective_batch}"
    return Change(new, f"halve the batch {cfg.batch_size} → {new_batch}, accumulate ×{accum}: {tail}",
                  "halve-batch-accum")


def double_accumulation(cfg: RunConfig) -> Change:
    """Double gradient accumulation (the effective batch doubles with it)."""
    accum = _doubled_accum(cfg)
    new = _replace(cfg, grad_accum=accum)
    return Change(
        new,
        f"accumulate gradients ×{cfg.grad_accum} → ×{accum}: effective batch {cfg.effective_batch} → "
        f"{new.effective_batch}",
        "grad-accum",
    )


def toggle_memory_growth(cfg: RunConfig) -> Change:
    """Memory growth on or off. On drops --gpu-memory-limit: TensorFlow
    refuses both on one GPU (and on JAX a cap is a preallocated fraction)."""
    said = words_for(cfg.backend)
    if cfg.memory_growth:
        return Change(_replace(cfg, memory_growth=False), f"turn memory growth off: {said.reserves}", "memory-growth")
    sep = " " if said.growth_on.startswith("(") else ": "
    reason = f"turn memory growth on{sep}{said.growth_on}"
    if cfg.gpu_memory_limit is not None:
        reason += f" (drops the {cfg.gpu_memory_limit} MB GPU memory cap, which cannot be combined with it)"
    return Change(_replace(cfg, memory_growth=True, gpu_memory_limit=None), reason, "memory-growth")


def toggle_model(cfg: RunConfig) -> Change:
    """Switch between the seed's two CNNs."""
    from tui.kinds.estimate import count_params  # estimate is pure arithmetic; imported late to keep this light

    other = "small" if cfg.model == "large" else "large"
    new = _replace(cfg, model=other)
    before, after = count_params(cfg), count_params(new)
    words = "the reduced CNN" if other == "small" else "the larger CNN"
    return Change(new, f"switch to {words} ({_millions(after)} parameters instead of {_millions(before)})",
                  "small-model" if other == "small" else "large-model")


def toggle_mixed_precision(cfg: RunConfig) -> Change:
    if cfg.mixed_precision:
        return Change(_replace(cfg, mixed_precision=False), "turn mixed precision off: compute in float32",
                      "mixed-precision")
    return Change(_replace(cfg, mixed_precision=True),
                  "turn mixed precision on: float16 activations, about half their memory", "mixed-precision")


def toggle_xla(cfg: RunConfig) -> Change:
    """XLA off for a kind that has the switch (the user's own script: compile(jit_compile=False)),
    or back to its own choice."""
    kind = kind_for(cfg)
    on = kind.xla_on(cfg)
    if on is None:
        raise NoRemedy(kind_of(cfg).why_not(XLA))
    if on:
        return Change(kind.with_xla(cfg, False),
                      "turn XLA off: the model runs without jit_compile (some OOMs and recompiles go away)",
                      "xla-off")
    return Change(kind.with_xla(cfg, True), "let the script choose XLA again (Keras turns it on with a GPU)",
                  "xla-off")


def _doubled_accum(cfg: RunConfig) -> int:
    if cfg.strategy == "mirrored":
        raise NoRemedy("gradient accumulation is not supported with --strategy mirrored")
    if cfg.grad_accum * 2 > GRAD_ACCUM_MAX:
        raise NoRemedy(f"gradient accumulation is already ×{cfg.grad_accum}, the most allowed is ×{GRAD_ACCUM_MAX}")
    return cfg.grad_accum * 2


def _replace(cfg: RunConfig, **changes: object) -> RunConfig:
    try:
        return cfg.replace(**changes)
    except ConfigError as exc:  # a remedy must never hand out an invalid config
        raise NoRemedy(str(exc)) from None


def _millions(n: int) -> str:
    return f"{n / 1e6:.1f} M"
