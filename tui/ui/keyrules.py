"""What each key may do right now: pure rules over a small picture of the screen.

A key is enabled (True) or shown greyed (None) when it would do nothing now.
Remedy keys (the one action `remedy`, with the remedy's id) ask the remedy
table (`tui.remedies.table`) whether their remedy applies to the run's kind
and changes its config; the words of a greyed key's
reason go to the help screen. Kept free of the App so the rules read in one
place and test without a screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainer.config import RunConfig
from tui.common.states import LIVE_STATES
from tui.kinds import BATCH, kind_of
from tui.remedies import table
from tui.remedies.changes import Change, NoRemedy
from tui.ui.widgets.keys import Key

ALWAYS = frozenset({"toggle_plots", "show_log", "next_theme", "help", "quit_app"})


@dataclass(frozen=True)
class KeyState:
    """What the rules need to know about the screen."""

    config: RunConfig | None  # the current attempt's (or the one about to launch)
    run_state: str
    controls: bool  # may start and stop runs (not read-only, not mid-search, a supervisor or a replay)
    has_recovery: bool
    searching: bool = False  # a find-batch search is going on (s and Esc cancel it)


REMEDY = "remedy"  # the action of every remedy key: remedy(id)


def remedy_change(remedy: str, config: RunConfig) -> Change:
    """The Change a remedy key would make; NoRemedy (with the reason) when it cannot."""
    return table.change_for(remedy, config)


def check_key(key: Key, state: KeyState) -> bool | None:
    return check(REMEDY if key.remedy else key.action, state, key.remedy)


def check(action: str, state: KeyState, remedy: str | None = None) -> bool | None:
    """`remedy`: the id a `remedy` action names."""
    if action in ALWAYS:
        return True
    if action == "cancel_search":
        return True if state.searching else None
    if action == "stop":
        if state.searching:
            return True
        return True if state.controls and state.run_state in LIVE_STATES else None
    if action == "toggle_auto":
        return True if state.has_recovery else None
    if action == "find_batch":
        ok = state.controls and state.config is not None and state.run_state not in LIVE_STATES
        return True if ok and kind_of(state.config).allows(BATCH) else None
    if action == "relaunch":
        return True if state.controls and state.config is not None else None
    if action == REMEDY:
        if remedy is None or not state.controls or state.config is None:
            return None
        try:
            remedy_change(remedy, state.config)
        except NoRemedy:
            return None
        return True
    return True


def why_not(key: Key, config: RunConfig | None) -> str | None:
    """Why a key can never apply to this run's kind (None: it can, now or later)."""
    if config is None:
        return None
    kind = kind_of(config)
    if key.action == "find_batch" and not kind.allows(BATCH):
        return kind.why_not(BATCH)
    remedy = key.remedy
    if remedy is not None and not table.applies(remedy, kind):
        return kind.why_not(table.REMEDIES[remedy].needs or "")
    return None
