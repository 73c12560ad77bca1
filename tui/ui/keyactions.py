"""The screen's key actions: thin, each turns a key into a config change or a
screen. `KeyedApp` is the base of MemtuiApp and declares what the actions
use, so this module never imports the app (no cycle); app.py holds the wiring.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.reactive import reactive

from trainer.config import RunConfig
from trainer.distributed import log_name
from trainer.runfiles import LOG_FILE
from tui.common.states import LIVE_STATES
from tui.remedies.changes import NoRemedy
from tui.ui import keyrules
from tui.ui.widgets.keys import BY_ACTION, KEYS
from tui.ui.widgets.words import duration

if TYPE_CHECKING:
    from tui.session.findbatch import ProbeReport
    from tui.session.recovery import Recovery
    from tui.session.session import RunSession
    from tui.supervision.attempt import AttemptInfo
    from tui.ui.screens.main import MainScreen
    from tui.ui.themes import LoadedThemes


class KeyedApp(App[int]):
    """The part of the app the keys act on; `action_*` for tui.ui.widgets.keys."""

    run_state: reactive[str] = reactive("idle", bindings=True)
    # No key is enabled or greyed by it: a change need not rebuild the footer.
    auto_recover: reactive[bool] = reactive(False)
    searching: reactive[bool] = reactive(False, bindings=True)
    search_line: str | None = None  # the header's words on a find-batch search going on
    _search_cancel: threading.Event | None = None
    _probes_shown = 0  # probe rows in the attempts table so far (numbered on across searches)

    session: RunSession | None
    recovery: Recovery | None
    attempt: AttemptInfo | None
    config: RunConfig | None
    runs_dir: Path | None
    live: bool
    loaded: LoadedThemes
    _stop_pressed: bool
    _exit_when_ended: bool

    @property
    def main(self) -> MainScreen:  # the app's main screen
        raise NotImplementedError

    def launch(self, config: RunConfig, reason: str, *, by_hand: bool = False) -> None:
        raise NotImplementedError

    def refresh_header(self) -> None:
        raise NotImplementedError

    # --- what the keys may do now ------------------------------------------------

    def current_config(self) -> RunConfig | None:
        return self.attempt.config if self.attempt is not None else self.config

    def key_state(self) -> keyrules.KeyState:
        info = self.attempt
        controls = not (info is not None and info.read_only) and not self.searching and (
            self.session is not None or not self.live)
        return keyrules.KeyState(config=self.current_config(), run_state=self.run_state, controls=controls,
                                 has_recovery=self.recovery is not None, searching=self.searching)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        remedy = parameters[0] if action == keyrules.REMEDY and parameters else None
        return keyrules.check(action, self.key_state(), remedy if isinstance(remedy, str) else None)

    def enabled_keys(self) -> set[str]:
        state = self.key_state()
        return {k.key for k in KEYS if keyrules.check_key(k, state) is True}

    # --- the actions -------------------------------------------------------------

    def action_stop(self) -> None:
        if self.searching:
            self.action_cancel_search()
            return
        if self.session is None:
            return
        force = self._stop_pressed or self.run_state == "stopping"
        self._stop_pressed = True
        self.session.stop(force=force)
        self.notify("forcing the run to stop" if force else "stopping gracefully; press s again to force")

    def action_relaunch(self) -> None:
        cfg = self.current_config()
        if cfg is not None:
            self.launch(cfg, "relaunched as is (r)", by_hand=True)

    def action_remedy(self, remedy: str) -> None:
        """Relaunch with a remedy of the table (`tui.remedies.table`), by its id."""
        cfg = self.current_config()
        if cfg is None:
            return
        try:
            change = keyrules.remedy_change(remedy, cfg)
        except NoRemedy as exc:
            self.notify(str(exc), severity="warning")
            return
        self.launch(change.config, change.reason, by_hand=True)

    def action_toggle_auto(self) -> None:
        self.auto_recover = not self.auto_recover
        if self.recovery is not None:
            self.recovery.enabled = self.auto_recover
        if self.auto_recover and self.session is not None:
            self.session.recover_now()  # an out-of-memory ending already on screen is answered now
        self.refresh_header()
        # The header says it first, in a frame of its own; the toast (a widget to
        # mount and lay out, several times the cost) follows in the next one.
        self.call_after_refresh(self.notify, f"auto-recover {'on' if self.auto_recover else 'off'}")

    def action_find_batch(self) -> None:
        """Search the largest batch that fits (fresh process per probe), then relaunch."""
        cfg = self.current_config()
        if self.check_action("find_batch", ()) is not True or cfg is None:
            why = keyrules.why_not(BY_ACTION["find_batch"], cfg)
            self.notify(f"find batch: {why}" if why else
                        "find batch: stop the run first (s); the search needs the GPU to itself", severity="warning")
            return
        self._search_cancel = threading.Event()
        self.search_line = f"find batch: probe 1, batch {cfg.batch_size}? · s or Esc cancels"
        self.searching = True
        self.refresh_header()
        self.main.log_line("── find batch: probing batch sizes, one short fresh process each; s or Esc cancels")
        self.run_worker(lambda: self._search(cfg), thread=True, exclusive=True, group="find", exit_on_error=False)

    def action_cancel_search(self) -> None:
        if self._search_cancel is not None and self.searching:
            self._search_cancel.set()
            self.search_line = "find batch: cancelling (the probe running now is stopped)"
            self.refresh_header()

    def _search_progress(self, line: str | None, row: tuple[int, int, str, int | None, float | None] | None) -> None:
        """On the event loop: the header's search line and a probe's row."""
        if line is not None and self.searching:
            self.search_line = line
        if row is not None:
            self.main.probe_row(*row)
        self.refresh_header()

    def _search(self, cfg: RunConfig) -> None:
        from tui.runs.store import RunStore
        from tui.session.findbatch import ProbeFailed, SearchCancelled, find_batch

        base = self._probes_shown
        cancel = self._search_cancel
        last: list[ProbeReport] = []
        running: dict[int, int] = {}  # the probe started and not yet reported: index -> batch

        def say(line: str) -> None:
            self.call_from_thread(self.main.log_line, line)

        def started(index: int, batch: int) -> None:
            self._probes_shown = base + index
            running.clear()
            running[index] = batch
            open_range = f" · still open {last[-1].lo}–{last[-1].hi}" if last and last[-1].lo <= last[-1].hi else ""
            eta = (f" · ≤{last[-1].probes_left} more, ETA {duration(last[-1].eta_seconds)}"
                   if last and last[-1].eta_seconds is not None else "")
            self.call_from_thread(self._search_progress,
                                  f"find batch: probe {index}, batch {batch}?{open_range}{eta} · s or Esc cancels",
                                  (base + index, batch, "… probing", None, None))
            say(f"   probe {index}: batch {batch}…")

        def probed(report: ProbeReport) -> None:
            running.clear()
            last.append(report)
            outcome = "fits" if report.fits else "✗ out of memory"
            self.call_from_thread(self._search_progress, None,
                                  (base + report.index, report.batch, outcome, report.peak_memory,
                                   report.examples_per_second))
            say(f"   probe {report.index}: batch {report.batch} {'fits' if report.fits else 'does not fit'}"
                f"{' (warm spare)' if report.warm else ''}, {report.seconds:.1f} s")

        try:
            result = find_batch(cfg, RunStore(self.runs_dir or "."), on_start=started, on_probe=probed,
                                cancel=cancel)
        except SearchCancelled:
            say("── find batch: cancelled; nothing was relaunched")
            return
        except ProbeFailed as exc:
            say(f"✗ find batch: {exc}")
            return
        finally:
            # A probe that never reported (cancelled, failed, an error) must not stay "probing".
            for index, batch in running.items():
                ended = "cancelled" if cancel is not None and cancel.is_set() else "✗ failed"
                self.call_from_thread(self._search_progress, None, (base + index, batch, ended, None, None))
            self.call_from_thread(self._search_ended)
        new = result.launch_config(cfg)
        if new is None:
            say("✗ find batch: even batch 1 does not fit")
            return
        say(f"── find batch: largest fitting {result.largest} ({result.why}), launching with {new.batch_size}")
        self.call_from_thread(self.launch, new, f"find batch: {result.largest} fits, using {new.batch_size} (margin)")

    def _search_ended(self) -> None:
        self.searching = False
        self.search_line = None
        self._search_cancel = None
        self.refresh_header()

    def action_show_log(self) -> None:
        from tui.ui.screens.logview import LogScreen

        info = self.attempt
        workers = info.config.workers if info and info.config else 1  # --workers N: rank k's log, after `w`
        self.push_screen(LogScreen(Path(info.run_dir) / LOG_FILE if info else None,
                                   tuple(Path(info.run_dir) / log_name(k) for k in range(1, workers)) if info else ()))

    def action_toggle_plots(self) -> None:
        if not self.main.toggle_plots():
            self.notify("the plots and the step log are both on screen at this width")

    def action_next_theme(self) -> None:
        names = list(self.loaded.names) or [self.theme]
        self.theme = names[(names.index(self.theme) + 1) % len(names)] if self.theme in names else names[0]
        self.notify(f"theme: {self.theme}")

    def action_help(self) -> None:
        from tui.ui.screens.help import HelpScreen

        cfg = self.current_config()
        reasons = {k.action: why for k in KEYS if (why := keyrules.why_not(k, cfg))}
        self.push_screen(HelpScreen(reasons))

    def action_quit_app(self) -> None:
        info = self.attempt
        if info is None or info.read_only or self.run_state not in LIVE_STATES:
            self.exit(0)
            return
        from tui.ui.screens.quit import LEAVE, QUIT, STOP, QuitScreen

        def answer(choice: str | None) -> None:
            if choice == QUIT:
                self.exit(0)
            elif choice == STOP:
                self._exit_when_ended = True
                self.action_stop()
            elif choice == LEAVE and self.session is not None:
                self.session.detach()
                self.exit(0)

        self.push_screen(QuitScreen(f"attempt {info.number}, {info.run_id}"), answer)
