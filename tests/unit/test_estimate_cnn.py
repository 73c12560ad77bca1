"""The pre-flight estimate: analytic shapes of the seed's CNNs, no TensorFlow."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.config import RunConfig
from tui.kinds.estimate import calibrate, count_params, describe, estimate, layers, num_classes


@pytest.mark.parametrize(("model", "params"), [("small", 8_413_610), ("large", 33_650_506)])
def test_parameter_counts_match_keras_at_256_pixels_and_10_classes(model: str, params: int) -> None:
    assert count_params(RunConfig(model=model), classes=10) == params


def test_layer_shapes_follow_same_padding_and_floor_pooling() -> None:
    shapes = {layer.name: layer.output_shape for layer in layers("small", 65, 10)}
    assert shapes["conv2d_1"] == (65, 65, 16)
    assert shapes["max_pooling2d_1"] == (32, 32, 16)
    assert shapes["max_pooling2d_3"] == (8, 8, 64)
    assert shapes["flatten"] == (8 * 8 * 64,)


def test_fixed_memory_is_weights_gradients_and_two_adam_slots() -> None:
    est = estimate(RunConfig(), classes=10)
    assert est.weight_bytes == est.gradient_bytes == 8_413_610 * 4
    assert est.optimizer_bytes == 2 * est.weight_bytes
    assert est.accumulator_bytes == 0
    assert estimate(RunConfig(grad_accum=2), classes=10).accumulator_bytes == est.weight_bytes


def test_activations_count_forward_and_backward_and_halve_under_mixed_precision() -> None:
    f32 = estimate(RunConfig(image_size=32), classes=10)
    outputs = sum(layer.outputs for layer in layers("small", 32, 10) if layer.name != "flatten")
    assert f32.activation_bytes_per_example == 2 * 4 * outputs
    f16 = estimate(RunConfig(image_size=32, mixed_precision=True), classes=10)
    assert f16.activation_bytes_per_example < 0.51 * f32.activation_bytes_per_example


def test_the_peak_grows_linearly_with_the_batch() -> None:
    est = estimate(RunConfig(batch_size=32), classes=10)
    assert est.peak_at(64) - est.peak_at(32) == 32 * est.per_example_bytes
    assert est.peak_bytes == est.peak_at(32)


def test_a_config_that_will_not_fit_gets_a_plain_warning() -> None:
    est = estimate(RunConfig(model="large", batch_size=512), classes=10)
    warning = est.warning(4 << 30)
    assert warning is not None and "will not fit" in warning
    assert f"largest batch predicted to fit is {est.max_batch(4 << 30)}" in warning
    assert est.warning(est.peak_bytes) is None
    assert est.warning(None) is None


def test_calibration_fits_a_line_through_measured_peaks() -> None:
    fit = calibrate([(8, 1_000 + 8 * 50), (16, 1_000 + 16 * 50), (32, 1_000 + 32 * 50)])
    assert fit.slope == pytest.approx(50)
    assert fit.intercept == pytest.approx(1_000)
    assert fit.predict(64) == 1_000 + 64 * 50
    with pytest.raises(ValueError, match="two or more different batch sizes"):
        calibrate([(8, 100), (8, 120)])


def test_describe_shows_the_estimate_and_the_calibrated_number() -> None:
    est = estimate(RunConfig(), classes=10)
    lines = describe(est, calibrate([(16, 10 << 20), (32, 20 << 20)]), free_bytes=1 << 20)
    text = "\n".join(lines)
    assert "8,413,610 parameters" in text
    assert "calibrated from 2 measured runs" in text
    assert "will not fit" in text


def test_classes_are_the_data_folders_subfolders_else_ten(tmp_path: Path) -> None:
    for name in ("cats", "dogs", "owls", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert num_classes(RunConfig(data=str(tmp_path))) == 3
    assert num_classes(RunConfig(data=str(tmp_path / "missing"))) == 10
    assert num_classes(RunConfig()) == 10
