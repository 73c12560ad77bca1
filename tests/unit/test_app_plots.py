"""The plots: their bounded data, the chart drawing, the `p` key, the wide
layout, the quit dialog following the run, and an attach filling the plots
from the run folder's events."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.widgets import Static

from tests.recorded import MIB, OOM_VERDICT, T0, cpu_snapshot, event, feed_recovery, feed_training, info, make_app
from tests.waiting import wait_for
from tui.supervision.attempt import AttemptEnded, AttemptStarted, EventBatch
from tui.ui.app import MemtuiApp
from tui.ui.plotdata import CAP, Series, SessionPlots
from tui.ui.screens.quit import QuitScreen
from tui.ui.widgets.chart import Chart, Level, Line, Mark, draw
from tui.ui.widgets.plots import ChartView, PlotsPanel, learning_chart, memory_chart
from tui.ui.widgets.steplog import StepLog

CORPUS = Path(__file__).parents[1] / "corpus" / "trainer"


def text_of(rows: list[list[tuple[str, str]]]) -> str:
    return "\n".join("".join(text for text, _ in row) for row in rows)


# --- the data ---------------------------------------------------------------------


def test_a_long_series_keeps_a_bounded_number_of_points_in_order() -> None:
    s = Series(mean=True)
    for i in range(200_000):
        s.add(i, float(i % 7))
    assert CAP // 2 <= len(s) <= CAP
    assert s.xs == sorted(s.xs) and s.xs[0] == 0
    assert all(2.0 < y < 4.0 for y in s.ys[:-1])  # means of 0..6 over wide buckets


def test_points_of_two_attempts_never_merge() -> None:
    s = Series()
    for i in range(5000):
        s.add(i, float(i), tag=1 if i < 2500 else 2)
    tags = s.tags
    assert tags[0] == 1 and tags[-1] == 2
    first_two = tags.index(2)
    assert set(tags[:first_two]) == {1} and set(tags[first_two:]) == {2}
    assert s.xs[first_two] == 2500  # the second attempt's segment starts where it did


def test_memory_series_keep_the_peak_of_what_they_merge() -> None:
    s = Series()
    for i in range(10_000):
        s.add(i * 0.5, 100.0 if i == 7777 else 1.0)
    assert max(s.ys) == 100.0


def test_the_session_plots_read_steps_epochs_relaunches_and_endings() -> None:
    data = SessionPlots()
    data.attempt_started(1, T0, None)
    for s in range(1, 11):
        data.event(event("step", t=T0 + s, epoch=1, step=s, loss=2.0 - s / 10, accuracy=s / 20, batch_size=8,
                         step_seconds=0.1, examples_per_second=80.0, memory={"current": s * MIB, "peak": 20 * MIB}))
    data.event(event("epoch", t=T0 + 10, epoch=1, metrics={"loss": 1.5, "val_loss": 1.7, "val_accuracy": 0.4}))
    data.attempt_ended("oom", T0 + 11)
    data.attempt_started(2, T0 + 12, (512 * MIB, "TF cap"))
    data.event(event("step", t=T0 + 14, epoch=1, step=1, loss=1.9, batch_size=4, step_seconds=0.1,
                     examples_per_second=40.0, memory={"current": MIB, "peak": MIB}))
    assert data.steps == 11 and len(data.loss) == 11 and data.loss.tags[-1] == 2
    assert data.val_loss.ys == [1.7] and data.val_accuracy.ys == [0.4]
    assert [(m.kind, m.attempt) for m in data.step_marks] == [("oom", 1), ("relaunch", 2)]
    assert [(m.kind, m.x) for m in data.time_marks] == [("oom", T0 + 11), ("relaunch", T0 + 12)]
    assert data.tf and data.peak and data.limit == (512 * MIB, "TF cap")


def test_a_reading_that_comes_late_never_sends_the_line_back_in_time() -> None:
    s = Series()
    for x, y in ((1.0, 10.0), (2.0, 20.0), (1.5, 90.0), (3.0, 30.0)):
        s.add(x, y)
    assert s.xs == sorted(s.xs) == [1.0, 2.0, 3.0]
    assert s.ys == [10.0, 90.0, 30.0], "the late reading joins the newest bucket (memory keeps its max)"


def test_a_live_cpu_run_plots_the_samplers_rss_not_each_steps_own_reading_too() -> None:
    """Two readings of one process at different moments made the line jitter between them."""
    data = SessionPlots()
    data.attempt_started(1, T0, None)
    for i in range(10):
        snap = cpu_snapshot(T0 + i)
        data.snapshot(snap.__class__(**{**snap.__dict__, "trainer": snap.trainer.__class__((1,), 600 * MIB, 90.0)}))
        data.event(event("step", t=T0 + i + 0.5, epoch=1, step=i + 1, loss=1.0, batch_size=8, step_seconds=0.1,
                         examples_per_second=80.0, memory={"rss": 12 * MIB}))
    assert set(data.run.ys) == {600 * MIB}
    replayed = SessionPlots()  # attach: no sampler reading of the past, the steps' own are all there is
    replayed.attempt_started(1, T0, None)
    replayed.event(event("step", t=T0, epoch=1, step=1, loss=1.0, batch_size=8, step_seconds=0.1,
                         examples_per_second=80.0, memory={"rss": 12 * MIB}))
    assert replayed.run.ys == [12 * MIB]


# --- the drawing ------------------------------------------------------------------


def test_a_chart_has_numbered_axes_and_its_marks_as_symbols() -> None:
    points = [(float(x), float(x % 10), 1 if x < 50 else 2) for x in range(100)]
    chart = Chart((0, 99), (0, 12), lambda x: f"{x:.0f}", lambda y: f"{y:.0f}",
                  lines=[Line(points, "chart--a0")], levels=[Level(11.5, "limit 12", "chart--limit")],
                  marks=[Mark(49.5, "┃", "chart--relaunch", label="2"), Mark(99, "✗", "chart--oom", bar="┊")])
    rows = draw(chart, 40, 10)
    assert len(rows) == 10 and all(sum(len(t) for t, _ in row) == 40 for row in rows)
    text = text_of(rows)
    assert "12┤" in text and "0┤" in text  # the y axis, numbered
    assert rows[-1][0][0].endswith("└") and "99" in text_of(rows[-1:])  # the x axis, numbered
    assert "┃2" in rows[0][1][0] + "".join(t for t, _ in rows[0][2:]) and "✗" in text
    assert "limit 12" in text and "╌" in text
    assert any(0x2800 < ord(ch) <= 0x28FF for ch in text)  # the line, in braille


def test_the_memory_chart_scales_to_the_run_and_says_what_is_off_scale() -> None:
    data = SessionPlots()
    data.attempt_started(1, T0, None)
    for i in range(20):
        snap = cpu_snapshot(T0 + i)
        rss = (550 + 5 * i) * MIB
        data.snapshot(snap.__class__(**{**snap.__dict__, "trainer": snap.trainer.__class__((1,), rss, 100.0)}))
    chart, title = memory_chart(data)
    lo, hi = chart.y_range
    assert lo > 500 * MIB and hi < 700 * MIB  # the run's own 550-645 MiB, not the host's 16 GiB
    assert "host used 7.0 GiB off scale" in title and "total 16.0 GiB off scale" in title
    assert "trainer RSS 645 MiB" in title


def test_the_loss_chart_draws_each_attempt_its_own_way() -> None:
    feed = SessionPlots()
    for number, (first, n) in enumerate(((1, 30), (31, 20)), start=1):
        feed.attempt_started(number, T0, None)
        for s in range(first, first + n):
            feed.event(event("step", t=T0 + s, epoch=1, step=s, loss=3.0 - s / 50, batch_size=8,
                             step_seconds=0.1, examples_per_second=80.0, memory={}))
    chart, title = learning_chart(feed, "loss")
    assert [line.texture for line in chart.lines] == ["solid", "dashed"]
    assert "#1" in title and "#2" in title
    assert [m.label for m in chart.marks] == ["2"]


# --- on the screen ----------------------------------------------------------------


async def test_p_puts_the_plots_in_the_logs_place_at_80_columns_and_back() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        feed_training(app)
        await pilot.pause()
        plots, log = app.query_one(PlotsPanel), app.query_one(StepLog)
        assert not plots.display and log.display and "p: plots" in str(log.border_title)
        await pilot.press("p")
        await pilot.pause()
        assert plots.display and not app.query_one("#runs").display
        loss = app.query_one("#plot-loss", ChartView)
        assert loss.region.height >= 4 and loss.builds >= 1
        assert "p: step log" in str(app.query_one("#plot-memory", ChartView).border_title)
        await pilot.press("p")
        await pilot.pause()
        assert not plots.display and app.query_one("#runs").display and log.display


async def test_from_120_columns_plots_and_log_sit_side_by_side() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed_recovery(app)
        await pilot.pause()
        plots, log = app.query_one(PlotsPanel), app.query_one(StepLog)
        assert plots.display and log.display and app.screen.has_class("-wide")
        assert plots.region.right <= log.region.x and plots.region.y < log.region.bottom
        memory = app.query_one("#plot-memory", ChartView)
        painted = "\n".join(memory.render_line(y).text for y in range(memory.size.height))
        assert "✗2" in painted and "┃" in painted  # the out-of-memory ending, then the relaunch
        await pilot.press("p")  # nothing to switch at this width: it says so
        await pilot.pause()
        assert plots.display and log.display


async def test_the_plots_redraw_on_the_tick_not_per_step() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed_training(app)
        await pilot.pause()
        loss = app.query_one("#plot-loss", ChartView)
        builds = loss.builds
        more = tuple(event("step", t=T0 + s, epoch=2, step=s, loss=1.0, batch_size=64, step_seconds=0.1,
                           examples_per_second=640.0, memory={}) for s in range(36, 40))
        for ev in more:
            app.handle_notice(EventBatch(info(1, "training", steps=80), (ev,), 0))
        await pilot.pause()
        assert loss.builds == builds  # the steps are in the data, not yet drawn
        app.main.catch_up()  # the screen's tick
        await pilot.pause()
        assert loss.builds == builds + 1


async def test_the_quit_dialog_follows_the_run_to_its_end_and_q_quits() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        feed_training(app)
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, QuitScreen) and dialog.ended is None
        await pilot.press("q")  # not yet: the run is going; no second dialog either
        await pilot.pause()
        assert app.screen is dialog and len(app.screen_stack) == 2
        ended = info(1, "oom", steps=75, ended=T0 - 3.0, exit_code=3)
        app.handle_notice(AttemptEnded(ended, OOM_VERDICT))
        await pilot.pause()
        words = str(dialog.query_one("#quit-what", Static).render())
        assert "has ended" in words and "out of memory" in words
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_the_quit_dialog_offers_stop_again_when_a_relaunch_starts() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        feed_training(app)
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, QuitScreen)
        app.handle_notice(AttemptEnded(info(1, "oom", steps=75, ended=T0 - 3.0, exit_code=3), OOM_VERDICT))
        app.handle_notice(AttemptStarted(info(2, "starting", started=T0)))
        await pilot.pause()
        assert dialog.ended is None and "attempt 2" in str(dialog.query_one("#quit-what", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, QuitScreen) and app.is_running


async def test_an_attach_fills_the_plots_from_the_run_folder(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = runs / "20260101-000000-a001"
    shutil.copytree(CORPUS / "trainer_finished", run)
    app = MemtuiApp(None, runs_dir=runs, attach=run, interval=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        data = app.main.plot_data
        await wait_for(pilot, lambda: app.run_state == "finished", "the replayed ending")
        steps = [e for e in run.joinpath("events.jsonl").read_text().splitlines() if '"type":"step"' in e]
        assert data.steps == len(steps) and len(data.loss) == len(steps)
        assert data.run  # the trainer's own memory readings at its steps
        app.main.catch_up()
        await pilot.pause()
        loss = app.query_one("#plot-loss", ChartView)
        assert loss.builds >= 1 and "now 2.319" in str(loss.border_title)



async def test_the_charts_take_the_new_themes_colours() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed_training(app)
        await pilot.pause()
        loss = app.query_one("#plot-loss", ChartView)
        before = loss._style_map()["chart--a0"]
        await pilot.press("t")
        await pilot.pause()
        app.main.catch_up()
        await pilot.pause()
        assert loss._styles is not None and loss._styles["chart--a0"] != before
