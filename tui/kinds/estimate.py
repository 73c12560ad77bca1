"""Pre-flight memory estimate for the seed's two CNNs, without TensorFlow.

Shapes are worked out by hand from the seed's architecture: three blocks of
Conv2D(3x3, same padding, ReLU) + MaxPooling2D(2x2, floor), then Flatten,
Dense(ReLU) and Dense(softmax). The rules, stated once:

* weights, gradients and Adam's two slots are float32 (4 bytes each per
  parameter, also under mixed precision, where Keras keeps float32 master
  weights); gradient accumulation adds one float32 accumulator per parameter;
* activations: every layer's output is kept for the backward pass and the
  backward pass makes a gradient of the same size, so activation bytes per
  example are 2 x (sum of layer outputs) x bytes per element: 4 for float32,
  2 under mixed_float16 (the softmax output stays float32). Flatten is a view
  and costs nothing; the input batch is float32;
* peak = fixed (weights, gradients, slots, accumulators) + batch x per example.

It ignores framework overhead (CUDA context, cuDNN workspaces, allocator
rounding), which is why `calibrate` fits measured peaks of the same model.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from trainer.config import ARCHITECTURES, RunConfig
from tui.common.units import format_bytes

DEFAULT_CLASSES = 10
_F32 = 4


@dataclass(frozen=True)
class Layer:
    name: str
    output_shape: tuple[int, ...]  # without the batch dimension
    params: int

    @property
    def outputs(self) -> int:
        return math.prod(self.output_shape)


def layers(model: str, image_size: int, classes: int = DEFAULT_CLASSES) -> list[Layer]:
    """The layers of one of the seed's CNNs with output shapes and parameters."""
    filters, dense = ARCHITECTURES[model]
    out: list[Layer] = []
    h = w = image_size
    channels = 3
    for i, f in enumerate(filters, 1):
        out.append(Layer(f"conv2d_{i}", (h, w, f), 3 * 3 * channels * f + f))
        h, w, channels = h // 2, w // 2, f
        out.append(Layer(f"max_pooling2d_{i}", (h, w, f), 0))
    flat = h * w * channels
    out.append(Layer("flatten", (flat,), 0))
    out.append(Layer("dense", (dense,), flat * dense + dense))
    out.append(Layer("dense_out", (classes,), dense * classes + classes))
    return out


def count_params(cfg: RunConfig, classes: int | None = None) -> int:
    return sum(layer.params for layer in layers(cfg.model, cfg.image_size, classes or num_classes(cfg)))


def num_classes(cfg: RunConfig) -> int:
    """Subfolders of config.data (cheap: one directory listing), else 10."""
    if cfg.data is None:
        return DEFAULT_CLASSES
    try:
        with os.scandir(Path(cfg.data).expanduser()) as entries:
            count = sum(1 for e in entries if not e.name.startswith(".") and e.is_dir())
    except OSError:
        return DEFAULT_CLASSES
    return count or DEFAULT_CLASSES


@dataclass(frozen=True)
class Estimate:
    model: str
    image_size: int
    classes: int
    batch_size: int
    params: int
    weight_bytes: int
    gradient_bytes: int
    optimizer_bytes: int  # Adam's two slots
    accumulator_bytes: int  # gradient accumulation (0 when grad_accum == 1)
    activation_bytes_per_example: int  # forward + backward, as the module docstring says
    input_bytes_per_example: int

    @property
    def fixed_bytes(self) -> int:
        return self.weight_bytes + self.gradient_bytes + self.optimizer_bytes + self.accumulator_bytes

    @property
    def per_example_bytes(self) -> int:
        return self.activation_bytes_per_example + self.input_bytes_per_example

    def peak_at(self, batch: int) -> int:
        return self.fixed_bytes + batch * self.per_example_bytes

    @property
    def peak_bytes(self) -> int:
        return self.peak_at(self.batch_size)

    def max_batch(self, free_bytes: int) -> int:
        """The largest batch whose predicted peak fits in `free_bytes` (0: none)."""
        room = free_bytes - self.fixed_bytes
        return max(0, room // self.per_example_bytes) if self.per_example_bytes else 0

    def warning(self, free_bytes: int | None, where: str = "the GPU") -> str | None:
        """A plain sentence when the predicted peak will not fit, else None."""
        if free_bytes is None or self.peak_bytes <= free_bytes:
            return None
        fits = self.max_batch(free_bytes)
        hint = f"; the largest batch predicted to fit is {fits}" if fits else "; even batch 1 is predicted not to fit"
        return (
            f"Predicted peak {_words(self.peak_bytes)} at batch {self.batch_size} will not fit in the "
            f"{_words(free_bytes)} free on {where}{hint}."
        )


def estimate(cfg: RunConfig, classes: int | None = None) -> Estimate:
    """The predicted memory of one training step of `cfg`."""
    n_classes = classes or num_classes(cfg)
    model_layers = layers(cfg.model, cfg.image_size, n_classes)
    params = sum(layer.params for layer in model_layers)
    element = 2 if cfg.mixed_precision else _F32
    kept = [layer for layer in model_layers if layer.name != "flatten"]
    # The softmax output is float32 even under mixed precision.
    act = sum(layer.outputs * element for layer in kept[:-1]) + kept[-1].outputs * _F32
    return Estimate(
        model=cfg.model,
        image_size=cfg.image_size,
        classes=n_classes,
        batch_size=cfg.batch_size,
        params=params,
        weight_bytes=params * _F32,
        gradient_bytes=params * _F32,
        optimizer_bytes=2 * params * _F32,
        accumulator_bytes=params * _F32 if cfg.grad_accum > 1 else 0,
        activation_bytes_per_example=2 * act,
        input_bytes_per_example=cfg.image_size * cfg.image_size * 3 * _F32,
    )


@dataclass(frozen=True)
class Fit:
    """peak ≈ intercept + slope x batch, fitted to measured peaks of one model."""

    intercept: float
    slope: float
    points: int

    def predict(self, batch: int) -> int:
        return round(self.intercept + self.slope * batch)


def calibrate(measurements: list[tuple[int, int]]) -> Fit:
    """Least-squares line in batch size through (batch, peak_bytes) pairs.
    Needs at least two different batch sizes."""
    if len({b for b, _ in measurements}) < 2:
        raise ValueError("calibration needs measured peaks at two or more different batch sizes")
    n = len(measurements)
    mean_b = sum(b for b, _ in measurements) / n
    mean_p = sum(p for _, p in measurements) / n
    sxx = sum((b - mean_b) ** 2 for b, _ in measurements)
    sxy = sum((b - mean_b) * (p - mean_p) for b, p in measurements)
    slope = sxy / sxx
    return Fit(intercept=mean_p - slope * mean_b, slope=slope, points=n)


def describe(est: Estimate, fit: Fit | None = None, free_bytes: int | None = None) -> list[str]:
    """Readable lines for the pre-flight panel, the history and the CLI."""
    lines = [
        f"{est.model} CNN at {est.image_size}×{est.image_size}, {est.classes} classes: {est.params:,} parameters",
        f"weights {_words(est.weight_bytes)}, gradients {_words(est.gradient_bytes)}, "
        f"Adam slots {_words(est.optimizer_bytes)}"
        + (f", accumulators {_words(est.accumulator_bytes)}" if est.accumulator_bytes else ""),
        f"activations {_words(est.activation_bytes_per_example)} per example (forward + backward)",
        f"predicted peak at batch {est.batch_size}: {_words(est.peak_bytes)}",
    ]
    if fit is not None:
        lines.append(f"calibrated from {fit.points} measured runs: {_words(fit.predict(est.batch_size))}")
    if (warn := est.warning(free_bytes)) is not None:
        lines.append(warn)
    return lines


def _words(n: float) -> str:
    return format_bytes(n, spaced=True)
