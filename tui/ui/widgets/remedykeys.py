"""What each key may do right now, and the remedy behind each relaunch key.

Kept apart from the App so the rules read in one place: a key is enabled
(True), shown greyed (None) when it would do nothing now. The remedy functions
are pure (`tui.remedies.changes`), so asking them whether they apply is cheap enough to
do while the footer is drawn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tui.common.states import LIVE_STATES

if TYPE_CHECKING:
    from tui.ui.app import MemtuiApp

# key action -> name of the pure function in tui.remedies.changes
REMEDIES: dict[str, str] = {
    "halve_batch": "halve_batch",
    "toggle_growth": "toggle_memory_growth",
    "toggle_model": "toggle_model",
    "toggle_precision": "toggle_mixed_precision",
    "double_accum": "double_accumulation",
}
RELAUNCHING = frozenset({"relaunch", *REMEDIES})
ALWAYS = frozenset({"show_log", "next_theme", "help", "quit_app"})


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def controls(app: MemtuiApp) -> bool:
    """This screen may start and stop runs (not read-only, not mid-search)."""
    info = app.attempt
    if info is not None and info.read_only:
        return False
    if app.searching:
        return False
    return app.supervisor is not None or not app.live


def remedy_change(app: MemtuiApp, action: str) -> Any:
    """The Change a remedy key would make; raises NoRemedy when it cannot."""
    remedies = _module("tui.remedies.changes")
    cfg = app.current_config()
    if remedies is None or cfg is None:
        raise LookupError("remedies are not available")
    return getattr(remedies, REMEDIES[action])(cfg)


def check(app: MemtuiApp, action: str) -> bool | None:
    if action in ALWAYS:
        return True
    if action == "stop":
        return True if controls(app) and app.run_state in LIVE_STATES else None
    if action == "toggle_auto":
        return True if app.recovery is not None else None
    if action == "find_batch":
        ok = controls(app) and app.current_config() is not None and app.run_state not in LIVE_STATES
        return True if ok and _module("tui.session.findbatch") is not None else None
    if action in RELAUNCHING:
        if not controls(app) or app.current_config() is None:
            return None
        if action == "relaunch":
            return True
        try:
            remedy_change(app, action)
        except Exception:  # NoRemedy, or remedies not there yet: the key is greyed, not broken
            return None
        return True
    return True


def apply(app: MemtuiApp, action: str) -> Any | None:
    """The remedy's Change, or None after telling the person why it cannot apply."""
    try:
        return remedy_change(app, action)
    except LookupError as exc:
        app.notify(str(exc), severity="warning")
    except Exception as exc:  # NoRemedy carries the words
        app.notify(str(exc), severity="warning")
    return None


def find_batch(app: MemtuiApp) -> None:
    """Search the largest batch that fits (fresh process per probe), then relaunch."""
    cfg = app.current_config()
    if check(app, "find_batch") is not True or cfg is None:
        app.notify("find batch: stop the run first (s); the search needs the GPU to itself", severity="warning")
        return
    app.searching = True
    app.main.log_line("── find batch: probing batch sizes, one short fresh process each")
    app.run_worker(lambda: _search(app, cfg), thread=True, exclusive=True, group="find", exit_on_error=False)


def _search(app: MemtuiApp, cfg: Any) -> None:
    from tui.runs.store import RunStore
    from tui.session.findbatch import find_batch as search

    def say(line: str) -> None:
        app.call_from_thread(app.main.log_line, line)

    try:
        result = search(
            cfg,
            RunStore(app.runs_dir or "."),
            on_start=lambda i, batch: say(f"   probe {i}: batch {batch}…"),
            on_probe=lambda r: say(f"   probe {r.index}: batch {r.batch} {'fits' if r.fits else 'does not fit'}"),
        )
    finally:
        app.call_from_thread(setattr, app, "searching", False)
    new = result.launch_config(cfg)
    if new is None:
        say("✗ find batch: even batch 1 does not fit")
        return
    say(f"── find batch: largest fitting {result.largest}, launching with {new.batch_size}")
    app.call_from_thread(app.launch, new, f"find batch: {result.largest} fits, using {new.batch_size} (margin)")
