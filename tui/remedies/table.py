"""Every remedy memtui knows, one `Remedy` object each, in one table.

One remedy, one id: the diagnosis ranks ids and asks each remedy for its words
(`offer`), the ladder climbs ids (`tui.remedies.ladder`), headless mode prints
their words, and the screen's keys table (`tui.ui.widgets.keys`) maps ids to
letters and applies them through `change`. Each entry holds:

- the capability a run kind must have for it to apply (`tui.kinds`; the kind
  is taken on the run's backend, so JAX's "no XLA switch" counts too);
- its "already on" check, which the ladder and the diagnosis skip it by;
- the pure function that makes the change, where memtui can make it itself
  (None: advice the person follows). A key and the ladder may make it
  differently: a key toggles (growth on, or off again), the ladder only ever
  turns a remedy on. Where the change itself differs, the remedy differs:
  `halve-batch` halves the batch, `halve-batch-accum` also doubles
  accumulation, and each has its own id;
- its words: a generic title, why it fits a verdict's evidence and, for
  advice, what to do (`tui.remedies.explain`).

A new remedy is one entry here (and its change or its words).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from trainer.config import RunConfig
from tui.common.verdict import Remedy as Offer
from tui.kinds import (
    ACCUMULATION,
    BATCH,
    DATA_BUFFERS,
    GPU_CAP,
    IMAGE_SIZE,
    MEMORY_GROWTH,
    MIXED_PRECISION,
    MODEL_SWITCH,
    XLA,
    RunKind,
    kind_for,
    kind_of,
)
from tui.remedies import explain as ex
from tui.remedies.changes import (
    Change,
    NoRemedy,
    double_accumulation,
    halve_batch,
    toggle_memory_growth,
    toggle_mixed_precision,
    toggle_model,
    toggle_xla,
)

Mode = Literal["key", "ladder"]
BY_KEY: Mode = "key"  # a key (and the diagnosis, whose remedies name keys): toggles
BY_LADDER: Mode = "ladder"  # automatic recovery: only ever turns a remedy on

Explain = Callable[[str, Mapping[str, Any], RunConfig | None], str | None]


@dataclass(frozen=True)
class Remedy:
    id: str
    words: str  # the generic title, when there is no config to say it precisely
    needs: str | None  # the capability a run kind must have (None: any run)
    why: Explain  # why it fits a verdict (verdict kind, details, config); None: not for this case
    make: Callable[[RunConfig, Mode, int], Change] | None = None  # (config, mode, min batch); None: advice only
    already_on: Callable[[RunConfig], str | None] | None = None  # the words when it is on already, else None
    advice: Callable[[RunConfig | None, Mapping[str, Any]], str] | None = None  # advice's title (default: words)
    repeats: bool = False  # the ladder may climb it again
    gpu_only: bool = False  # it changes how GPU memory is used, not the host's

    def allowed(self, kind: RunKind) -> bool:
        """A run of this kind (on its backend) can have it."""
        return kind.allows(self.needs)

    def on_already(self, config: RunConfig) -> str | None:
        return self.already_on(config) if self.already_on is not None else None

    def change(self, config: RunConfig, mode: Mode = BY_KEY, min_batch: int = 1,
               kind: RunKind | None = None) -> Change:
        """The Change this remedy makes to `config`; NoRemedy (with the reason in words)
        when the kind cannot have it, the ladder finds it on already, or nothing would change."""
        kind = kind or kind_of(config)
        if not kind.allows(self.needs):
            raise NoRemedy(kind.why_not(self.needs or ""))
        if self.make is None:
            raise NoRemedy(f"{self.words}: memtui cannot make this change itself")
        if mode == BY_LADDER and (on := self.on_already(config)) is not None:
            raise NoRemedy(on)
        return self.make(config, mode, min_batch)

    def offer(self, kind: str, details: Mapping[str, Any], config: RunConfig | None) -> Offer | None:
        """This remedy as a verdict offers it, in the words of its change for this config
        (the key's change: a verdict's remedies name their keys); None when the run's kind
        cannot have it, it is on already, or it is not for this case."""
        if config is not None and (not self.allowed(kind_of(config)) or self.on_already(config) is not None):
            return None
        why = self.why(kind, details, config)
        if why is None:
            return None
        if self.make is None:
            return Offer(self.id, self.advice(config, details) if self.advice else self.words, why)
        if config is None:
            return Offer(self.id, self.words, why)
        try:
            return Offer(self.id, self.change(config).reason, why)
        except NoRemedy:
            return None


def _said(text: str) -> Callable[[RunConfig | None, Mapping[str, Any]], str]:
    return lambda config, details: text


def _growth_on(config: RunConfig) -> str | None:
    return "memory growth is already on" if config.memory_growth else None


def _precision_on(config: RunConfig) -> str | None:
    return "mixed precision is already on" if config.mixed_precision else None


def _xla_off(config: RunConfig) -> str | None:
    return None if kind_for(config).xla_on(config) else "XLA is already off"


def _small_model(config: RunConfig) -> str | None:
    return "the reduced CNN is already in use" if config.model == "small" else None


TABLE: tuple[Remedy, ...] = (
    Remedy("halve-batch", "halve the batch", BATCH, ex.why_halve, repeats=True,
           make=lambda cfg, mode, least: halve_batch(cfg, min_batch=least)),
    Remedy("halve-batch-accum", "halve the batch and double accumulation", BATCH, ex.why_halve_accum,
           make=lambda cfg, mode, least: halve_batch(cfg, keep_effective=True, min_batch=least)),
    Remedy("grad-accum", "double gradient accumulation", ACCUMULATION, ex.why_accum,
           make=lambda cfg, mode, least: double_accumulation(cfg)),
    Remedy("memory-growth", "turn memory growth on", MEMORY_GROWTH, ex.why_growth, already_on=_growth_on,
           gpu_only=True, make=lambda cfg, mode, least: toggle_memory_growth(cfg)),
    Remedy("mixed-precision", "turn mixed precision on", MIXED_PRECISION, ex.why_precision,
           already_on=_precision_on, make=lambda cfg, mode, least: toggle_mixed_precision(cfg)),
    Remedy("small-model", "switch to the reduced CNN", MODEL_SWITCH, ex.why_small_model, already_on=_small_model,
           make=lambda cfg, mode, least: toggle_model(cfg)),
    Remedy("xla-off", "turn XLA off", XLA, ex.why_xla_off, already_on=_xla_off, gpu_only=True,
           make=lambda cfg, mode, least: toggle_xla(cfg)),
    Remedy("image-size", "use smaller images", IMAGE_SIZE, ex.why_image_size, advice=ex.advise_image_size),
    Remedy("gpu-cap", "raise or remove --gpu-memory-limit", GPU_CAP, ex.why_gpu_cap, advice=ex.advise_gpu_cap),
    Remedy("buffers", "smaller shuffle and prefetch buffers", DATA_BUFFERS, ex.why_buffers,
           advice=ex.advise_buffers),
    Remedy("host-limit", "raise --host-memory-limit", None, ex.why_host_limit, advice=ex.advise_host_limit),
    Remedy("other-processes", "free the GPU", None, ex.why_other_processes, advice=ex.advise_other_processes),
    Remedy("tf-data", "feed the data through tf.data in batches", None, ex.why_tf_data,
           advice=_said("feed the data through tf.data in batches instead of one in-memory array")),
    Remedy("async-allocator", "try without TF_GPU_ALLOCATOR=cuda_malloc_async", None, ex.why_async_allocator),
    Remedy("check-versions", "check the CUDA, cuDNN and driver versions", None, ex.why_check_versions,
           advice=_said("check the CUDA, cuDNN and driver versions against the ones your TensorFlow/JAX/PyTorch "
                        "build expects (nvidia-smi, pip list)")),
    Remedy("jax-preallocate", "set XLA_PYTHON_CLIENT_PREALLOCATE=false", None, ex.why_jax_preallocate,
           advice=_said("set XLA_PYTHON_CLIENT_PREALLOCATE=false (JAX's memory growth)")),
    Remedy("jax-mem-fraction", "set XLA_PYTHON_CLIENT_MEM_FRACTION", None, ex.why_jax_mem_fraction,
           advice=_said("set XLA_PYTHON_CLIENT_MEM_FRACTION (e.g. .50) to cap JAX's share of the GPU")),
    Remedy("torch-expandable", "set PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True", None,
           ex.why_torch_expandable),
)
REMEDIES: dict[str, Remedy] = {remedy.id: remedy for remedy in TABLE}


def applies(remedy_id: str, kind: RunKind) -> bool:
    """This remedy can be applied to a run of this kind."""
    remedy = REMEDIES.get(remedy_id)
    return remedy is not None and remedy.allowed(kind)


def change_for(remedy_id: str, config: RunConfig, kind: RunKind | None = None, mode: Mode = BY_KEY) -> Change:
    """The Change a remedy makes to `config`; NoRemedy (with the reason in
    words) when the kind cannot have it or the config would not change."""
    return REMEDIES[remedy_id].change(config, mode, kind=kind)
