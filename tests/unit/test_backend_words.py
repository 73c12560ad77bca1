"""Each Keras backend's words live in one entry (tui/common/backendwords.py):
the diagnosis, the remedies and the run kinds all read it."""

from __future__ import annotations

from trainer.backends import BACKENDS as TRAINER_BACKENDS
from trainer.config import RunConfig
from tui.common.backendwords import BACKENDS, TENSORFLOW, words_for
from tui.diagnosis.rank import _in_backend_terms
from tui.kinds import XLA, kind_of
from tui.remedies.changes import toggle_memory_growth


def test_every_backend_the_trainer_knows_has_words() -> None:
    assert set(TRAINER_BACKENDS) <= set(BACKENDS)
    assert words_for(None) is TENSORFLOW and words_for("mxnet") is TENSORFLOW


def test_what_a_backend_cannot_do_comes_from_its_entry() -> None:
    jax = kind_of(RunConfig(backend="jax"))
    assert not jax.allows(XLA) and jax.why_not(XLA) == BACKENDS["jax"].cannot["xla"]
    assert kind_of(RunConfig()).allows(XLA) is False  # the built-in trainer has no XLA switch at all
    assert kind_of(RunConfig()).why_not(XLA) != BACKENDS["jax"].cannot["xla"]


def test_memory_growth_is_said_in_the_backends_terms() -> None:
    assert toggle_memory_growth(RunConfig(backend="jax")).reason == (
        "turn memory growth on (XLA_PYTHON_CLIENT_PREALLOCATE=false): JAX takes GPU memory as it needs it")
    tf_words = "turn memory growth on: TensorFlow takes GPU memory as it needs it"
    assert toggle_memory_growth(RunConfig()).reason == tf_words
    assert toggle_memory_growth(RunConfig(memory_growth=True, backend="jax")).reason == (
        "turn memory growth off: JAX preallocates 75% of the GPU at start")


def test_the_advice_memory_growth_becomes_on_each_backend() -> None:
    order = ["halve-batch", "memory-growth"]
    assert _in_backend_terms(order, {"backend": "tensorflow"}) == order
    assert _in_backend_terms(order, {"backend": "jax"}) == ["halve-batch", "jax-preallocate", "jax-mem-fraction"]
    assert _in_backend_terms(order, {"backend": "jax"}, sets_growth=True) == order, "the kind sets growth itself"
    assert _in_backend_terms(order, {"backend": "torch"}, sets_growth=True) == ["halve-batch"]
    big = {"backend": "torch", "reserved_unallocated": 3 * 2**30}
    assert _in_backend_terms(order, big) == ["torch-expandable", "halve-batch"]
