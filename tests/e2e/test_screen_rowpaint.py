"""The newest-step row, painted straight to the terminal between frames
(tui/widgets/rowpaint.py), as a person sees it in a real terminal (tmux):

- what it paints is exactly what Textual paints for the same state, cell for
  cell with colours, in 256 colours and under NO_COLOR;
- it never paints over what lies on top: the help screen, a notification;
- the cheap way (the new label swapped into the last rendered row) is the one
  that carries most steps.

The trainer is the stand-in (a real subprocess on the real protocol) at 20
steps a second; `tests/paint_probe.py` is memtui itself, reporting its
painter's counts when it exits.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.tmuxdrive import Tmux

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
NEWEST = re.compile(r"newest e(\d+) (\d+)/")


def start(tmux: Tmux, tmp_path: Path, **env: str) -> str:
    script = {"rate": 20, "steps": 4000}
    # Textual takes COLUMNS/LINES over the terminal's own size; under pytest they
    # are set, and would pin the screen at 80x24 through a resize.
    argv = ["env", "-u", "COLUMNS", "-u", "LINES", sys.executable, "-m", "tests.paint_probe", "--epochs", "1"]
    return tmux.start(argv, env={
        "MEMTUI_TRAINER_MODULE": "tests.stand_in_trainer", "STAND_IN_SCRIPT": json.dumps(script),
        "MEMTUI_RUNS_DIR": str(tmp_path / "runs"), "MEMTUI_CACHE_DIR": str(tmp_path / "cache"),
        "PAINT_PROBE_OUT": str(tmp_path / "paint.json"), "TERM": "xterm-256color", "PYTHONPATH": str(ROOT),
        **env,
    })


def newest_step(screen: str) -> int:
    found = NEWEST.findall(screen)
    assert len(found) == 1, f"expected one newest-step row:\n{screen}"
    return int(found[0][1])


def border_row(screen: str) -> str:
    rows = [row for row in screen.splitlines() if "newest e" in row]
    assert len(rows) == 1, screen
    return rows[0]


def follows(after: int) -> Callable[[str], bool]:
    """The screen shows one newest-step row, past step `after`."""
    return lambda s: len(NEWEST.findall(s)) == 1 and newest_step(s) > after


def still_row(tmux: Tmux, pane: str, seconds: float, timeout: float = 30.0) -> str:
    """The newest-step row, styled, once it has not changed for `seconds` (at
    least that long a wait; a loaded machine only makes it longer)."""
    deadline = time.monotonic() + timeout
    last, since = border_row(tmux.screen(pane, styles=True)), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = border_row(tmux.screen(pane, styles=True))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return now
    raise AssertionError(f"the row kept changing for {timeout:.0f}s: {last!r}")


def stand_in(tmp_path: Path) -> psutil.Process:
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        # An argument of its own: tmux's server holds the whole pane command as one.
        if "tests.stand_in_trainer" in cmd and any(str(tmp_path) in part for part in cmd):
            return proc
    raise AssertionError("the stand-in trainer is not running")


def quit_and_read_counts(tmux: Tmux, pane: str, tmp_path: Path) -> dict[str, int]:
    tmux.keys(pane, "q")
    tmux.wait_for(pane, lambda s: "leave" in s.lower(), timeout=20, what="the quit dialog")
    tmux.keys(pane, "s")
    deadline = time.monotonic() + 30
    while not tmux.pane_dead(pane) and time.monotonic() < deadline:
        time.sleep(0.1)
    return json.loads((tmp_path / "paint.json").read_text())


@pytest.mark.parametrize("colours", ["256 colours", "NO_COLOR"])
def test_the_painted_row_is_what_a_full_redraw_paints(tmux: Tmux, tmp_path: Path, colours: str) -> None:
    pane = start(tmux, tmp_path, **({"NO_COLOR": "1"} if colours == "NO_COLOR" else {}))
    tmux.wait_for(pane, lambda s: NEWEST.search(s) is not None and newest_step(s) >= 40, timeout=60,
                  what="step 40 in the border")
    first = newest_step(tmux.screen(pane))
    tmux.wait_for(pane, follows(first), timeout=20, what="the row following the steps")

    trainer = stand_in(tmp_path)
    trainer.send_signal(signal.SIGSTOP)  # the state holds still: no more steps
    try:
        # The row still for longer than a tick, so the log, header and gauges are drawn too.
        painted = still_row(tmux, pane, 1.5)
        # A resize makes Textual render every row afresh from the widgets' state.
        tmux.resize(pane, 81, 24)
        tmux.wait_for(pane, lambda s: len(border_row(s).rstrip()) == 81, timeout=10, what="the row at 81 columns")
        tmux.resize(pane, 80, 24)
        tmux.wait_for(pane, lambda s: len(border_row(s).rstrip()) == 80, timeout=10, what="the row at 80 columns")
        redrawn = still_row(tmux, pane, 0.5)
    finally:
        trainer.send_signal(signal.SIGCONT)
    assert painted == redrawn
    # Under NO_COLOR Textual paints in greys only (the 256-colour grey ramp).
    colours_used = {int(n) for n in re.findall(r"\x1b\[(?:[0-9;]*;)?[34]8;5;(\d+)", painted)}
    greys = {0, 7, 8, 15, 16, 231, *range(232, 256)}
    if colours == "NO_COLOR":
        assert colours_used <= greys, repr(painted)
    else:
        assert colours_used - greys, f"the row should carry the theme's colours: {painted!r}"

    counts = quit_and_read_counts(tmux, pane, tmp_path)
    assert counts["swaps"] > counts["renders"] > 0, counts


def test_the_help_screen_and_a_notification_are_never_painted_over(tmux: Tmux, tmp_path: Path) -> None:
    pane = start(tmux, tmp_path)
    tmux.wait_for(pane, lambda s: NEWEST.search(s) is not None and newest_step(s) >= 20, timeout=60,
                  what="step 20 in the border")

    tmux.keys(pane, "?")
    tmux.wait_for(pane, "Show every key", timeout=10)
    for _ in range(4):  # 20 steps a second go on under the help screen
        screen = tmux.screen(pane)
        assert "Show every key" in screen and "newest" not in screen, screen
        time.sleep(0.25)
    tmux.keys(pane, "Escape")
    before = newest_step(tmux.wait_for(pane, lambda s: NEWEST.search(s) is not None, timeout=10))
    tmux.wait_for(pane, follows(before), timeout=20, what="the row following the steps again")

    tmux.keys(pane, "t")  # the next theme, said in a notification over the bottom right
    under = newest_step(tmux.wait_for(pane, "theme: ", timeout=10))
    for _ in range(4):
        screen = tmux.screen(pane)
        assert "theme: " in screen, screen  # whole, while the steps go on beneath it
        time.sleep(0.25)
    # Under a notification the row is drawn by Textual, and still follows.
    tmux.wait_for(pane, lambda s: "theme: " in s and follows(under)(s), timeout=20,
                  what="the row following the steps under the notification")
    counts = quit_and_read_counts(tmux, pane, tmp_path)
    assert counts["swaps"] > 0, counts
