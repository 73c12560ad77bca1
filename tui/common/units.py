"""Byte and percentage formatting: the one place memtui turns bytes into words.

Binary units throughout (1G = 1024**3 bytes), written the way nvidia-smi users
read them: one decimal, a single letter, no space ("14.2G").
"""

from __future__ import annotations

KIB = 1024
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4

_UNITS = ((TIB, "T"), (GIB, "G"), (MIB, "M"), (KIB, "K"))


def _unit_for(n: float) -> tuple[int, str]:
    for size, letter in _UNITS:
        if abs(n) >= size:
            return size, letter
    return 1, "B"


def format_bytes(n: float | None, *, digits: int | None = 1, spaced: bool = False, unknown: str = "?") -> str:
    """Bytes for people, the one formatter every part uses.

    `spaced=False`: nvidia-smi's way, `15246822605` -> `"14.2G"`. `spaced=True`:
    TensorFlow's binary units, `"14.2 GiB"`, `"512 B"`. `digits=None` keeps
    three significant figures (`"2.0 GiB"`, `"512 MiB"`). `None` (not known)
    -> `unknown`.
    """
    if n is None:
        return unknown
    size, letter = _unit_for(n)
    if size == 1:
        return f"{int(n)} B" if spaced else f"{int(n)}B"
    value = n / size
    places = digits if digits is not None else (0 if abs(value) >= 100 else 1)
    return f"{value:.{places}f} {letter}iB" if spaced else f"{value:.{places}f}{letter}"


def format_used_total(used: int | None, total: int | None, *, digits: int = 1) -> str:
    """`"14.2/23.9G"`: both figures in the unit of the total, so they compare at a glance."""
    if total is None:
        return f"{format_bytes(used, digits=digits)}/?"
    size, letter = _unit_for(total)
    if size == 1:
        return f"{'?' if used is None else used}/{total}B"
    used_text = "?" if used is None else f"{used / size:.{digits}f}"
    return f"{used_text}/{total / size:.{digits}f}{letter}"


def format_percent(part: int | None, whole: int | None) -> str:
    """`"59%"`; `"?"` when either side is unknown or the whole is zero."""
    if part is None or not whole:
        return "?"
    return f"{100 * part / whole:.0f}%"


def format_loss(loss: float | None, digits: int = 4) -> str:
    """A loss for people; the protocol sends NaN/inf losses as null."""
    return "nan" if loss is None else f"{loss:.{digits}f}"


def loss_part(loss: float | None, raw: dict, digits: int = 4) -> str:
    """` loss 0.1234` for a step line; ` loss nan` where the loss was NaN; empty
    where the script reported none (a training loop whose loss memtui cannot
    read says `loss_seen: false`): memtui never invents a loss."""
    if loss is None and raw.get("loss_seen") is False:
        return ""
    return f" loss {format_loss(loss, digits)}"


def speed_words(examples_per_second: float, step_seconds: float, batch_size: int, digits: int = 0,
                long: bool = False) -> str:
    """`36 ex/s`, or steps per second where the batch is not known (batch 0)."""
    if batch_size > 0 or step_seconds <= 0:
        return f"{examples_per_second:.{digits}f} {'examples/s' if long else 'ex/s'}"
    return f"{1 / step_seconds:.{max(digits, 1)}f} steps/s"


def step_count(n: int) -> str:
    """`1 step`, `3760 steps`."""
    return f"{n} step" if n == 1 else f"{n} steps"
