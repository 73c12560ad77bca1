"""What each run kind can change from outside, and what a backend takes away.

The vocabulary of capabilities (batch, memory growth, ...) that remedies name
(`tui.remedies.table`), and one `RunKind` record per kind (and per variant of
one: a script whose batch cannot be set). What a kind *does* (launch, learn,
words) is its `Kind` object (`tui.kinds.base`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tui.common.backendwords import BACKENDS

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
# The script hook's change ids (trainer/scripthook ledger.py) as capabilities:
# a change it refused for a script takes the capability from that script's kind.
HOOK_CHANGES = {"batch": BATCH, "grad-accum": ACCUMULATION, "mixed-precision": MIXED_PRECISION, "jit-compile": XLA,
                "memory-growth": MEMORY_GROWTH, "gpu-cap": GPU_CAP}
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

# What a Keras backend takes away from any kind, with the reason (capability -> why),
# from each backend's entry in tui/common/backendwords.py. TensorFlow is the
# reference: the capabilities above are in its terms. On JAX, memory growth is no
# preallocation and the GPU cap a memory fraction (trainer/backends/jax.py); the
# batch, precision and accumulation go through Keras as on TensorFlow; only XLA
# is no switch there.
BACKEND_CANNOT: dict[str, dict[str, str]] = {name: dict(w.cannot) for name, w in BACKENDS.items() if w.cannot}


def on_backend(kind: RunKind, backend: str | None) -> RunKind:
    """`kind` as it runs on a Keras backend ("tensorflow", "jax"; None: unknown, as declared)."""
    cannot = BACKEND_CANNOT.get(backend or "", {})
    if not cannot:
        return kind
    return replace(kind, can=kind.can - cannot.keys(), reasons={**kind.reasons, **cannot})
