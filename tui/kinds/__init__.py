"""Run kinds: what can be run under memtui and what each kind can change.

A kind declares its capabilities (the settings memtui can change from outside
and what it can offer: a pre-flight estimate, resume). Remedies, the ladder,
the estimate, the footer's keys and find-batch ask the kind, never the config's
fields: a new kind is one `RunKind` here and a way to launch it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from trainer.config import RunConfig

# What a kind can change from outside, one name each.
BATCH = "batch"
MEMORY_GROWTH = "memory-growth"
GPU_CAP = "gpu-cap"
MIXED_PRECISION = "mixed-precision"
ACCUMULATION = "accumulation"
MODEL_SWITCH = "model-switch"
XLA = "xla"
IMAGE_SIZE = "image-size"
DATA_BUFFERS = "data-buffers"
CAPABILITIES = (BATCH, MEMORY_GROWTH, GPU_CAP, MIXED_PRECISION, ACCUMULATION, MODEL_SWITCH, XLA, IMAGE_SIZE,
                DATA_BUFFERS)


@dataclass(frozen=True)
class RunKind:
    """One kind of run and what memtui can do with it."""

    name: str  # recorded in meta.json as `kind`
    words: str  # for people: "the built-in trainer"
    can: frozenset[str]
    estimate: bool  # a pre-flight memory estimate exists for it
    resume: bool  # a relaunch continues from the last finished epoch
    reasons: dict[str, str] = field(default_factory=dict)  # capability -> why this kind cannot

    def allows(self, capability: str | None) -> bool:
        return capability is None or capability in self.can

    def why_not(self, capability: str) -> str:
        """One sentence for a greyed-out key's help line."""
        return self.reasons.get(capability, f"{self.words} cannot change this from outside")


BUILTIN = RunKind(
    name="builtin",
    words="the built-in trainer",
    can=frozenset({BATCH, MEMORY_GROWTH, GPU_CAP, MIXED_PRECISION, ACCUMULATION, MODEL_SWITCH, IMAGE_SIZE,
                   DATA_BUFFERS}),
    estimate=True,
    resume=True,
    reasons={XLA: "the built-in trainer does not use XLA"},
)

KINDS: dict[str, RunKind] = {BUILTIN.name: BUILTIN}

# What a Keras backend takes away from any kind, with the reason (capability -> why).
# TensorFlow is the reference: the capabilities above are in its terms. On JAX,
# memory growth is no preallocation and the GPU cap a memory fraction
# (trainer/backends.py), the batch, precision and accumulation go through Keras
# as on TensorFlow; only XLA is no switch there.
BACKEND_CANNOT: dict[str, dict[str, str]] = {
    "jax": {XLA: "on JAX every training step is compiled by XLA; turning it off runs op by op, slower and "
                 "with no memory saved"},
}


def on_backend(kind: RunKind, backend: str | None) -> RunKind:
    """`kind` as it runs on a Keras backend ("tensorflow", "jax"; None: unknown, as declared)."""
    cannot = BACKEND_CANNOT.get(backend or "", {})
    if not cannot:
        return kind
    return replace(kind, can=kind.can - cannot.keys(), reasons={**kind.reasons, **cannot})


def kind_of(config: RunConfig | None) -> RunKind:
    """The kind a config runs as (today every config is the built-in trainer's), on its backend."""
    return on_backend(BUILTIN, getattr(config, "backend", None))


def kind_named(name: str | None) -> RunKind:
    """The kind recorded in a run folder; folders from before kinds were recorded are built-in runs."""
    return KINDS.get(name or BUILTIN.name, BUILTIN)
