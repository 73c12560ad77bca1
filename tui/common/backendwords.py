"""What each Keras backend is called, and its terms, for every sentence the monitor says.

One entry per backend: a new backend is one `BackendWords` here (its trainer
side is one module in trainer/backends/). TensorFlow is the reference: the
remedies and capabilities are in its terms, and the other entries say where
theirs differ. Capabilities are spelled as in tui.kinds.capabilities (plain
strings here, so this bottom layer imports nothing above it).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BackendWords:
    name: str  # "JAX"
    xla_name: str  # who compiled the program that ran out, in an XLA out-of-memory sentence
    reserves: str  # what it does with GPU memory at start, without memory growth
    growth_on: str  # turning memory growth on, in its terms
    capped: str  # a GPU memory cap in force, as the diagnosis says it
    growth_why: str | None = None  # why growth helps after an OOM; None: the verdict kind's TensorFlow words
    # The advice that memory growth becomes where the run's kind does not set it itself:
    growth_advice: tuple[str, ...] = ("memory-growth",)
    advice_first_if_reserved: str | None = None  # advice to lead with when much memory is reserved, unallocated
    cannot: dict[str, str] = field(default_factory=dict)  # capability -> why no run on it can have it


TENSORFLOW = BackendWords(
    name="TensorFlow",
    xla_name="XLA-compiled training",
    reserves="TensorFlow reserves the GPU's memory at start",
    growth_on="TensorFlow takes GPU memory as it needs it",
    capped="TensorFlow was capped below the GPU's size.",
)
JAX = BackendWords(
    name="JAX",
    xla_name="JAX (XLA)",
    reserves="JAX preallocates 75% of the GPU at start",
    growth_on="(XLA_PYTHON_CLIENT_PREALLOCATE=false): JAX takes GPU memory as it needs it",
    capped="JAX was capped below the GPU's size (XLA_PYTHON_CLIENT_MEM_FRACTION, a fraction of its total).",
    growth_why=("JAX preallocates 75% of the GPU at start; without preallocation it takes memory as needed and "
                "leaves room for cuDNN and other processes."),
    growth_advice=("jax-preallocate", "jax-mem-fraction"),
    cannot={"xla": "on JAX every training step is compiled by XLA; turning it off runs op by op, slower and "
                   "with no memory saved"},
)
TORCH = BackendWords(
    name="PyTorch",
    xla_name="PyTorch/XLA",
    reserves="PyTorch's caching allocator keeps freed memory for reuse",
    growth_on="PyTorch takes GPU memory as it needs it",
    capped="PyTorch was capped below the GPU's size.",
    growth_advice=(),  # no memory growth to turn on; expandable segments instead, where much is reserved
    advice_first_if_reserved="torch-expandable",
)
BACKENDS: dict[str, BackendWords] = {"tensorflow": TENSORFLOW, "jax": JAX, "torch": TORCH}


def words_for(backend: str | None) -> BackendWords:
    """The words of `backend` ("tensorflow", "jax", "torch"); TensorFlow's for None or an unknown name."""
    return BACKENDS.get(backend or "", TENSORFLOW)
