"""The private framework names memtui reads (trainer/framework_internals.py):
still there in the versions memtui installs, and named in words when one moves."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from trainer import framework_internals as internals

pytestmark = pytest.mark.tf


def test_every_private_name_is_where_the_targeted_versions_keep_it() -> None:
    import keras
    import tensorflow  # noqa: F401  (the probe checks tf.data once TensorFlow is imported)

    assert internals.probe() == []
    assert keras.__version__.startswith(internals.TARGETS["keras"])
    owner = internals.compile_owner(keras.Sequential)
    assert owner is not None and owner.__name__ == "Trainer"
    assert "compile" in owner.__dict__ and owner.compile is keras.Model.compile


def test_a_batch_the_pipelines_spec_hides_is_read_from_its_batch_step() -> None:
    import tensorflow as tf

    ds = tf.data.Dataset.range(20).filter(lambda x: x >= 0).batch(4).map(lambda x: x * 2).prefetch(1)
    assert ds.element_spec.shape[0] is None  # the spec does not say the batch
    assert internals.dataset_batch(ds) == 4
    assert internals.dataset_batch(tf.data.Dataset.range(3)) is None


def test_a_keras_that_moved_a_private_name_is_named_with_its_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    class MovedModel(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            del self._model  # what a Keras that renamed it would look like

    moved = SimpleNamespace(callbacks=SimpleNamespace(Callback=MovedModel), Model=keras.Model,
                            Sequential=keras.Sequential, __version__="3.99.0")
    monkeypatch.setitem(sys.modules, "keras", moved)
    missing = internals.probe()
    assert [m.name for m in missing] == ["`Callback._model`"]
    assert missing[0].words() == ("a stop reads `Callback.model` instead: Keras 3.99.0 moved `Callback._model` "
                                  "(memtui targets 3.15)")


def test_a_tf_data_that_moved_batch_size_turns_batch_control_off_with_the_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow as tf

    batched_type = type(tf.data.Dataset.range(4).batch(2))
    real_init = batched_type.__init__

    def init(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        real_init(self, *args, **kwargs)
        self._moved_batch_size = self.__dict__.pop("_batch_size")

    monkeypatch.setattr(batched_type, "__init__", init)
    words = [m.words() for m in internals.probe()]
    assert any(w.startswith("batch control off for pipelines whose spec hides the batch: TensorFlow ")
               and "moved tf.data `_batch_size`" in w for w in words), words


def test_the_readers_never_raise_on_objects_without_the_names() -> None:
    assert internals.callback_model(object()) is None
    assert internals.initial_epoch(object()) is None
    assert internals.dataset_batch(object()) is None
    assert internals.compile_owner(int) is None
