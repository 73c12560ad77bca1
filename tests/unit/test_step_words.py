"""How a step reads on screen and in `memtui runs`: a loss the script never
reported is left out (never shown as a number, never as nan), a NaN loss says
nan, and a step whose batch is unknown (a training loop, a PyDataset) gives
steps per second instead of a made-up 0 examples/s."""

from __future__ import annotations

from typing import Any

from trainer.protocol import Step, decode, encode
from tui.common.units import loss_part, speed_words
from tui.runs.store import step_words
from tui.ui.widgets.words import step_line


def step(**fields: Any) -> Step:
    base: dict[str, Any] = {"epoch": 1, "step": 8, "loss": 0.25, "batch_size": 16, "step_seconds": 0.025,
                            "examples_per_second": 640.0, "memory": {}}
    event = decode(encode("step", **{**base, **fields}))
    assert isinstance(event, Step)
    return event


def test_a_loop_step_without_a_loss_shows_no_loss_and_steps_per_second() -> None:
    loop = step(loss=None, loss_seen=False, batch_size=0, examples_per_second=0.0)
    assert step_line(loop) == "e1    8 25 ms 40.0 steps/s"
    assert step_words(loop) == "ep1 8"


def test_a_nan_loss_still_says_nan() -> None:
    assert loss_part(None, {}) == " loss nan"
    assert "loss nan" in step_line(step(loss=float("nan")))


def test_a_known_batch_gives_examples_per_second() -> None:
    assert step_line(step()) == "e1    8 loss 0.2500 25 ms 640 ex/s"
    assert speed_words(640.0, 0.025, 16, digits=1, long=True) == "640.0 examples/s"
    assert speed_words(0.0, 0.0, 0) == "0 ex/s", "no time measured: nothing to divide by"
