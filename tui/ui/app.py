"""The memtui screen: the App that owns the supervisor and the sampler.

Threads never touch widgets: the supervisor's sink and the sampler's callback
post messages (`post_message` is thread-safe), and blocking work (launching,
which stops a live run first; the batch search) runs in thread workers. The
event loop only formats text.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import SystemCommand
from textual.binding import BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from trainer.config import RunConfig
from tui.common.states import LIVE_STATES
from tui.common.verdict import Verdict
from tui.supervision.attempt import AttemptEnded, AttemptStarted, EventBatch, SupervisorProblem
from tui.ui import keyrules
from tui.ui.keyactions import KeyedApp
from tui.ui.screens.main import MainScreen
from tui.ui.screens.quit import QuitScreen
from tui.ui.themes import DEFAULT_THEME, LoadedThemes, load_themes
from tui.ui.widgets.header import RunHeader
from tui.ui.widgets.keys import KEYS, bindings
from tui.ui.widgets.messages import Handoff, SamplesWaiting
from tui.ui.widgets.words import OUTCOMES

if TYPE_CHECKING:
    from tui.session.recovery import Recovery
    from tui.session.session import SessionNotice
    from tui.supervision.attempt import AttemptInfo
    from tui.supervision.supervisor import Supervisor
    from tui.telemetry.snapshot import Snapshot

EXIT_AFTER_FIRST_PAINT = "MEMTUI_EXIT_AFTER_PAINT"  # for bench/startup.py
TICK_SECONDS = 1.0


class MemtuiApp(KeyedApp):
    CSS_PATH = "app.tcss"
    TITLE = "memtui"
    MODES: ClassVar[dict[str, Any]] = {"main": MainScreen}
    DEFAULT_MODE = "main"
    BINDINGS: ClassVar[list[BindingType]] = bindings()  # type: ignore[assignment]

    def __init__(
        self,
        config: RunConfig | None,
        *,
        runs_dir: Path | None = None,
        theme: str = DEFAULT_THEME,
        themes: LoadedThemes | None = None,
        interval: float = 1.0,
        recovery: Recovery | None = None,
        attach: Path | None = None,
        live: bool = True,
        clock: Callable[[], float] = time.time,
        spare: bool = True,
    ) -> None:
        super().__init__()
        self.config = config
        self.runs_dir = runs_dir
        self.interval = interval
        self.recovery = recovery
        self.attach_dir = attach
        self.live = live
        self.clock = clock
        self.spare = spare  # a warm spare trainer for relaunches (--no-spare: False)
        self.loaded = themes or load_themes()
        for t in self.loaded.themes:
            self.register_theme(t)
        self.theme = theme
        self.attempt: AttemptInfo | None = None
        self.session = None
        self.sampler: Any = None
        self._sampled = 0  # the sampler's snapshots taken onto the screen so far
        self._first_sample_asked = False
        self._exit_when_ended = False
        self._stop_pressed = False
        self.auto_recover = bool(recovery and recovery.enabled)

    @property
    def supervisor(self) -> Supervisor | None:
        return self.session.supervisor if self.session is not None else None

    @property
    def main(self) -> MainScreen:
        screen = self.get_screen_stack("main")[0]
        assert isinstance(screen, MainScreen)
        return screen

    # --- lifecycle --------------------------------------------------------------

    def on_ready(self) -> None:
        # Ready comes after the main screen is composed and first painted.
        for problem in self.loaded.problems:
            self.notify(f"theme skipped: {problem}", severity="warning", timeout=8)
        # One clock for everything that follows a run at a human pace, so it all
        # lands in one frame a tick (see `_tick`); a faster sampler sets the pace.
        self.set_interval(min(TICK_SECONDS, self.interval), self._tick)
        self.refresh_header()
        self._exit_on_signals()
        if os.environ.get(EXIT_AFTER_FIRST_PAINT):
            self.call_after_refresh(self.exit, 0)
            return
        if self.live:
            self._start_live()

    def _start_live(self) -> None:
        # Imported here: they pull in psutil/NVML, which the first frame does not need.
        from tui.runs.store import RunStore
        from tui.session.session import RunSession
        from tui.telemetry.sampler import Sampler

        self.sampler = Sampler(interval=self.interval, on_snapshot=self._sampled_in_thread)
        notices: Handoff[SessionNotice] = Handoff(asyncio.get_running_loop(), self._take_notices, self._context)
        self.session = RunSession(RunStore(self.runs_dir or Path(".")), sink=notices.put, sink_blocks=False,
                                  recovery=self.recovery, sampler=self.sampler, spare=self.spare)
        self.sampler.start()
        if self.attach_dir is not None:
            self.session.attach(self.attach_dir)
        elif self.config is not None:
            self.launch(self.config, "first launch")

    def _exit_on_signals(self) -> None:
        """SIGTERM and SIGHUP (`kill`, a closed terminal) leave the way `q` then
        `l` does: the terminal restored, the run going on in its own session.
        Python's default would die on the spot, leaving the terminal in raw mode
        on the alternate screen with mouse reporting on."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self._signalled, signum)

    def _signalled(self, signum: int) -> None:
        name = signal.Signals(signum).name
        info = self.attempt
        if info is not None and self.run_state in LIVE_STATES and not self._exit_when_ended:
            note = f"memtui: {name}; run {info.run_id} goes on (memtui attach)"
        else:
            note = f"memtui: {name}: exited"
        if signum == signal.SIGHUP:
            _exit_soon_after_hangup(128 + signum)
        self.exit(128 + signum, return_code=128 + signum, message=note)

    def on_unmount(self) -> None:
        if threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)
        if self.session is not None:
            self.session.close()
        if self.sampler is not None:
            self.sampler.stop()

    # --- data from threads --------------------------------------------------------

    def _sampled_in_thread(self, snapshot: Snapshot) -> None:
        """The sampler's callback, in its thread. Only the first snapshot wakes the
        screen (it replaces the waiting line at once); the tick takes the rest
        from the sampler, so a sample costs no wake-up and message of its own."""
        if not self._first_sample_asked:
            self._first_sample_asked = True
            self.post_message(SamplesWaiting())

    def on_samples_waiting(self, message: SamplesWaiting) -> None:
        self._take_samples()

    def _take_samples(self) -> None:
        """Every snapshot the sampler stored since the last look, in order, kept for
        the sparkline; the gauges draw them with the tick's frame (the very first
        at once)."""
        if self.sampler is None or not self._screen_ready():
            return
        new, self._sampled = self.sampler.since(self._sampled)
        supervisor = self.supervisor
        usage = supervisor.spare_usage() if supervisor is not None else None
        self.main.memory.set_spare(usage[1] if usage else None)
        for snapshot in new:
            self.main.feed_snapshot(snapshot, draw=False)

    def feed_snapshot(self, snapshot: Snapshot) -> None:
        self.main.feed_snapshot(snapshot)

    def _take_notices(self, notices: list[SessionNotice]) -> None:
        """The supervisor's notices, in order, on the event loop (see Handoff)."""
        try:
            for notice in notices:
                if not self._screen_ready():
                    return
                self.handle_notice(notice)
        except Exception as error:  # as a message handler's would: Textual shows it and exits
            self._handle_exception(error)

    def _screen_ready(self) -> bool:
        """False while the app is shutting down: notices from the supervisor's
        thread can still arrive after the widgets are gone, even after the main
        screen itself. (The header is a child of the screen: looking at its
        children is cheap, a DOM query per notice was not.)"""
        try:
            stack = self.get_screen_stack("main")
        except KeyError:
            return False
        return bool(stack) and any(isinstance(child, RunHeader) for child in stack[0].children)

    def handle_notice(self, notice: SessionNotice) -> None:
        """Apply one session notice to the screen (also used to replay recorded runs)."""
        # The session's own notices are imported here, not with the app: the
        # session pulls in the supervisor, the run store and psutil, which the
        # first frame does not need (bench/startup.py).
        from tui.session.session import AttemptConcluded, AttemptNote, Checked, LaunchFailed

        if isinstance(notice, SupervisorProblem):
            self.notify(notice.message, severity="error", timeout=10)
            self.main.log_line(f"! {notice.message}")
            return
        if isinstance(notice, Checked):
            self.main.preflight(notice.preflight)
            if notice.preflight.warning:
                self.notify(notice.preflight.warning, severity="warning", timeout=8)
            return
        if isinstance(notice, AttemptNote):
            # Said once per attempt by the watch (no fit() seen, resumed from a backup, ...).
            self.main.log_line(f"── note: {notice.message}")
            self.notify(notice.message, timeout=8)
            return
        if isinstance(notice, LaunchFailed):
            self.notify(f"launch failed: {notice.message}", severity="error", timeout=10)
            self.main.log_line(f"! launch failed: {notice.message}")
            self.run_state = self.attempt.state if self.attempt is not None else "idle"
            return
        info = notice.attempt
        if self.attempt is not None and info.number < self.attempt.number:
            return  # a late notice from an attempt already replaced
        self.attempt = info
        if isinstance(notice, AttemptStarted):
            self._stop_pressed = False
            self.main.attempt_started(info)
            self._quit_dialog_follows(info, None)
        elif isinstance(notice, EventBatch):
            first = self.main.events(info, notice.events, notice.garbage)
            if info.state == self.run_state and not first:
                # Steady stepping: the header and history follow on the tick, so
                # 20 batches a second cost the newest-step row only, not 20 frames.
                return
        elif isinstance(notice, AttemptConcluded):
            self._ended(info, notice.verdict, notice.note)
        elif isinstance(notice, AttemptEnded):  # a replayed run: nothing decides what follows
            self._ended(info, notice.verdict, None)
        self.run_state = info.state
        self.refresh_header()

    def _ended(self, info: AttemptInfo, verdict: Verdict, note: str | None) -> None:
        self.main.attempt_ended(info, verdict, self.enabled_keys(), note)
        if self._exit_when_ended:
            self.exit(0)
            return
        self._quit_dialog_follows(info, OUTCOMES.get(info.state, info.state))

    def _quit_dialog_follows(self, info: AttemptInfo, ended: str | None) -> None:
        """An open quit dialog says that the run ended (then `q` quits), or that a relaunch is going."""
        for screen in self.screen_stack:
            if isinstance(screen, QuitScreen):
                screen.follow(f"attempt {info.number}, {info.run_id}", ended)

    def refresh_header(self) -> None:
        """Show a change of state now (a start, an end, the first step, a key)."""
        if self._screen_ready():
            self.main.refresh_header(
                self.attempt,
                idle_state="starting" if self.live and self.config else "idle",
                config=self.config,
                auto_recover=self.auto_recover,
                attached=self.attach_dir is not None,
                now=self.clock(),
                search=self.search_line,
            )

    def _tick(self) -> None:
        """Once a tick: the log catching up, gauges, then the clock, ETA and
        history; all in one pass of the loop, so one frame. Steps in between
        only repaint the newest-step row."""
        if self._screen_ready():
            self._take_samples()
            self.main.follow_ranks(self.attempt)
            self.main.catch_up()
            self.refresh_header()

    # --- launching -----------------------------------------------------------------

    def launch(self, config: RunConfig, reason: str, *, by_hand: bool = False) -> None:
        """Hand an attempt to the session (it stops a live run first, on its own thread)."""
        if self.session is None:
            self.notify("no supervisor: this screen only replays a run", severity="warning")
            return
        self.run_state = "stopping" if self.run_state in LIVE_STATES else "starting"
        self.session.launch(config, reason, by_hand=by_hand)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "find":
            error = event.worker.error
            self.notify(f"{event.worker.group} failed: {error}", severity="error", timeout=10)
            self.main.log_line(f"! {event.worker.group} failed: {error}")
            self.searching = False

    # --- helpers ------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        state = self.key_state()
        for k in KEYS:
            if keyrules.check_key(k, state) is True:
                yield SystemCommand(f"{k.label} ({k.key})", k.description, lambda a=k.action: self.run_action(a))


HANGUP_GRACE = 10.0  # seconds a closed terminal's memtui has to shut down before it leaves anyway


def _exit_soon_after_hangup(code: int) -> None:
    """Leave after HANGUP_GRACE even if shutting down hangs. Seen under load (py-spy): the
    main thread blocked in Textual's WriterThread.stop (Queue.put on a full queue) after the
    terminal went away, so memtui lingered holding the run's control lock and `memtui
    attach` stayed read-only. Everything that matters is on disk and the run lives in its
    own session; nothing can be drawn on a terminal that is gone."""

    def leave() -> None:
        time.sleep(HANGUP_GRACE)
        os._exit(code)

    threading.Thread(target=leave, name="hangup-exit", daemon=True).start()
