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

# The user's own Keras script (`memtui -- python train.py`): the hook inside it
# (trainer/scripthook) applies these from outside. Its batch can be set only
# where its fit() input allows it (run_start.batch_control), so the kind has a
# variant without BATCH for each reason it cannot; all are recorded as "script".
_SCRIPT_CAN = frozenset({MEMORY_GROWTH, GPU_CAP, MIXED_PRECISION, ACCUMULATION, XLA})
_SCRIPT_REASONS = {
    MODEL_SWITCH: "your own script builds its own model; memtui cannot swap it",
    IMAGE_SIZE: "your own script decides its image size; memtui cannot change it from outside",
    DATA_BUFFERS: "your own script builds its own input pipeline; memtui cannot change its buffers",
}
SCRIPT = RunKind(
    name="script",
    words="your own script",
    can=_SCRIPT_CAN | {BATCH},
    estimate=False,
    resume=True,
    reasons=_SCRIPT_REASONS,
)
# Why the batch cannot be set, by what run_start said about the fit() input.
BATCH_REASONS = {
    "unknown": "the script's batch is not known until its fit() starts; or write {batch_size} in the command "
               "(e.g. --batch {batch_size}) to let memtui set it",
    "none": "the script's fit() gets a generator or a PyDataset, whose batch memtui cannot set from outside; "
            "write {batch_size} in the command (e.g. --batch {batch_size}) to let memtui set it",
    "unread": "the batch of the script's tf.data pipeline could not be read; give --batch-size N and memtui "
              "re-batches it",
}
SCRIPT_FIXED_BATCH = {
    why: RunKind(name="script", words="your own script", can=_SCRIPT_CAN, estimate=False, resume=True,
                 reasons={**_SCRIPT_REASONS, BATCH: text})
    for why, text in BATCH_REASONS.items()
}

KINDS: dict[str, RunKind] = {BUILTIN.name: BUILTIN, SCRIPT.name: SCRIPT}

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
    """The kind a config runs as, on its backend: the built-in trainer's, or the user's
    own script (whose batch capability depends on what its fit() was seen to get)."""
    return on_backend(_kind_of(config), getattr(config, "backend", None))


def _kind_of(config: RunConfig | None) -> RunKind:
    script = getattr(config, "script", None)
    if script is None:
        return BUILTIN
    if script.batch_refused:  # the hook said why it could not set the batch memtui asked for
        return replace(SCRIPT_FIXED_BATCH["unread"],
                       reasons={**_SCRIPT_REASONS, BATCH: f"memtui could not set this script's batch: "
                                                          f"{script.batch_refused}"})
    if script.has_placeholder:
        return SCRIPT  # known before any fit(): the command itself carries it
    if script.batch_control == "none":
        return SCRIPT_FIXED_BATCH["none"]
    if script.batch_control == "unknown":
        # memtui sets the batch (--batch-size): fit() will say whether it could.
        return SCRIPT if script.set_batch else SCRIPT_FIXED_BATCH["unknown"]
    if not (script.set_batch or script.batch_known):
        return SCRIPT_FIXED_BATCH["unread"]
    return SCRIPT


def kind_named(name: str | None) -> RunKind:
    """The kind recorded in a run folder; folders from before kinds were recorded are built-in runs."""
    return KINDS.get(name or BUILTIN.name, BUILTIN)
