"""The screen's key actions: thin, each turns a key into a config change or a
screen. A mixin of MemtuiApp, kept apart so app.py holds the wiring only."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from trainer.config import RunConfig
from trainer.runfiles import LOG_FILE
from tui.common.states import LIVE_STATES
from tui.ui.widgets import remedykeys

if TYPE_CHECKING:
    from tui.ui.app import MemtuiApp


class KeyActions:
    """`action_*` methods for the bindings in tui.ui.widgets.keys."""

    def action_stop(self: MemtuiApp) -> None:
        if self.supervisor is None:
            return
        force = self._stop_pressed or self.run_state == "stopping"
        self._stop_pressed = True
        self.supervisor.stop(force=force)
        self.notify("forcing the run to stop" if force else "stopping gracefully; press s again to force")

    def action_relaunch(self: MemtuiApp) -> None:
        cfg = self.current_config()
        if cfg is not None:
            self._by_hand(cfg, "relaunched as is (r)")

    def _remedy(self: MemtuiApp, action: str) -> None:
        change = remedykeys.apply(self, action)
        if change is not None:
            self._by_hand(change.config, change.reason)

    def action_halve_batch(self: MemtuiApp) -> None:
        self._remedy("halve_batch")

    def action_toggle_growth(self: MemtuiApp) -> None:
        self._remedy("toggle_growth")

    def action_toggle_model(self: MemtuiApp) -> None:
        self._remedy("toggle_model")

    def action_toggle_precision(self: MemtuiApp) -> None:
        self._remedy("toggle_precision")

    def action_double_accum(self: MemtuiApp) -> None:
        self._remedy("double_accum")

    def _by_hand(self: MemtuiApp, config: RunConfig, reason: str) -> None:
        if self.recovery is not None:
            self.recovery.reset()
        self.launch(config, reason)

    def action_toggle_auto(self: MemtuiApp) -> None:
        self.auto_recover = not self.auto_recover
        if self.recovery is not None:
            self.recovery.enabled = self.auto_recover
        self.refresh_header()
        # The header says it first, in a frame of its own; the toast (a widget to
        # mount and lay out, several times the cost) follows in the next one.
        self.call_after_refresh(self.notify, f"auto-recover {'on' if self.auto_recover else 'off'}")

    def action_find_batch(self: MemtuiApp) -> None:
        remedykeys.find_batch(self)

    def action_show_log(self: MemtuiApp) -> None:
        from tui.ui.screens.logview import LogScreen

        info = self.attempt
        self.push_screen(LogScreen(Path(info.run_dir) / LOG_FILE if info else None))

    def action_next_theme(self: MemtuiApp) -> None:
        names = list(self.loaded.names) or [self.theme]
        self.theme = names[(names.index(self.theme) + 1) % len(names)] if self.theme in names else names[0]
        self.notify(f"theme: {self.theme}")

    def action_help(self: MemtuiApp) -> None:
        from tui.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_quit_app(self: MemtuiApp) -> None:
        info = self.attempt
        if info is None or info.read_only or self.run_state not in LIVE_STATES:
            self.exit(0)
            return
        from tui.ui.screens.quit import LEAVE, STOP, QuitScreen

        def answer(choice: str | None) -> None:
            if choice == STOP:
                self._exit_when_ended = True
                self.action_stop()
            elif choice == LEAVE and self.supervisor is not None:
                self.supervisor.detach()
                self.exit(0)

        self.push_screen(QuitScreen(f"attempt {info.number}, {info.run_id}"), answer)
