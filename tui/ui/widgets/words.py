"""Words and symbols for what the screen shows, as pure functions.

Meaning rides on words and symbols so that the screen reads right under
NO_COLOR and in 256 colours; the markup colour only helps. Kept free of widgets
so the header, the history and the tests share one wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainer.protocol import Step
from tui.common.units import format_bytes, loss_part, speed_words

# state -> (symbol + words, style)
STATES: dict[str, tuple[str, str]] = {
    "idle": ("○ NO RUN YET", "dim"),
    "starting": ("◌ STARTING", "bold $accent"),
    "training": ("▶ TRAINING", "bold $success"),
    "stopping": ("■ STOPPING…", "bold $warning"),
    "finished": ("✓ FINISHED", "bold $success"),
    "stopped": ("■ STOPPED", "bold $warning"),
    "oom": ("✗ OUT OF MEMORY", "bold $error"),
    "crashed": ("✗ CRASHED", "bold $error"),
    "killed": ("✗ KILLED", "bold $error"),
}

# Short outcome words for the history table.
OUTCOMES: dict[str, str] = {
    "starting": "◌ starting", "training": "▶ training", "stopping": "■ stopping",
    "finished": "✓ finished", "stopped": "■ stopped", "oom": "✗ out of memory",
    "crashed": "✗ crashed", "killed": "✗ killed",
}

def nbytes(value: float | None) -> str:
    """Bytes in binary units with three significant figures; '?' when unknown."""
    return format_bytes(value, digits=None, spaced=True)


def pair(current: float | None, peak: float | None) -> str:
    """'2.8/3.0 GiB' (now/peak) sharing one unit when they have the same one."""
    a, b = nbytes(current), nbytes(peak)
    if a.split(" ")[-1] == b.split(" ")[-1] and "?" not in (a, b):
        return f"{a.split(' ')[0]}/{b}"
    return f"{a}/{b}"


def duration(seconds: float | None) -> str:
    """h:mm:ss or m:ss; '--:--' when unknown."""
    if seconds is None or seconds < 0:
        return "--:--"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def level_symbol(fraction: float) -> str:
    """▲ warns (≥ 90%), △ notes (≥ 75%), · otherwise: danger readable without colour."""
    if fraction >= 0.9:
        return "▲"
    if fraction >= 0.75:
        return "△"
    return "·"


def level_style(fraction: float) -> str:
    if fraction >= 0.9:
        return "$error"
    if fraction >= 0.75:
        return "$warning"
    return "$success"


def bar(fraction: float, width: int) -> str:
    """A block bar with eighth-cell resolution; empty cells are light shade so
    the full width shows even without colour."""
    width = max(1, width)
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part].strip() if part else ""
    filled = "█" * full + partial
    return filled + "░" * (width - len(filled))


def tf_memory(memory: Mapping[str, Any]) -> tuple[int | None, int | None, str]:
    """TensorFlow's (current, peak, label) from a step's memory field.

    The trainer reports current/peak per GPU (summed here) where TensorFlow can,
    and the trainer's RSS on CPU-only hosts.
    """
    current = peak = None
    label = "TF"
    items: list[Mapping[str, Any]] = [memory]
    items += [v for v in memory.values() if isinstance(v, Mapping)]
    for v in memory.values():
        if isinstance(v, list):
            items += [x for x in v if isinstance(x, Mapping)]
    for item in items:
        c = _num(item, "current", "current_bytes")
        p = _num(item, "peak", "peak_bytes")
        if c is not None:
            current = (current or 0) + c
        if p is not None:
            peak = (peak or 0) + p
    if current is None and peak is None:
        rss = _num(memory, "cpu_rss", "rss", "rss_bytes")
        if rss is not None:
            return rss, _num(memory, "cpu_rss_peak", "peak_rss", "rss_peak"), "RSS"
    return current, peak, label


def _num(m: Mapping[str, Any], *keys: str) -> int | None:
    for k in keys:
        v = m.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return int(v)
    return None


def step_line(step: Step) -> str:
    """One step-log line: epoch/step, loss, accuracy, time, speed, memory."""
    total = f"/{step.steps_in_epoch}" if step.steps_in_epoch else ""
    acc = f" acc {step.accuracy:.3f}" if step.accuracy is not None else ""
    current, peak, label = tf_memory(step.memory)
    mem = f"  {label} {pair(current, peak)}" if current is not None or peak is not None else ""
    return (
        f"e{step.epoch} {step.step:>4}{total}{loss_part(step.loss, step.raw)}{acc} "
        f"{step.step_seconds * 1000:.0f} ms "
        f"{speed_words(step.examples_per_second, step.step_seconds, step.batch_size)}{mem}"
    )
