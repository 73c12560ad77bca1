"""The seed's two CNNs, exactly."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.tf


@pytest.mark.parametrize(("name", "params"), [("small", 8_413_610), ("large", 33_650_506)])
def test_the_seed_models_have_the_seed_parameter_counts_at_256px_and_10_classes(name: str, params: int) -> None:
    from trainer.models import build_model

    assert build_model(name, 256, 10).count_params() == params


def test_the_models_adapt_to_any_image_size_and_class_count() -> None:
    from trainer.models import build_model

    model = build_model("small", 32, 3)
    # 32 -> 16 -> 8 -> 4 after three poolings: 4*4*64 flattened into Dense(128).
    assert model.output_shape == (None, 3)
    assert model.layers[-2].kernel.shape == (4 * 4 * 64, 128)
