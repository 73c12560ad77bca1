"""Launch, stop, escalate and relaunch real runs of the stand-in trainer."""

from __future__ import annotations

import json
import stat

import pytest

from tests.supervision import STAND_IN, Collector, group_alive, in_order, script_env
from tests.waiting import wait_until
from trainer.config import RunConfig
from trainer.protocol import RunEnd, RunStart
from tui.runs.store import RunStore
from tui.supervision.attempt import AttemptStarted
from tui.supervision.supervisor import Supervisor


@pytest.fixture
def sink() -> Collector:
    return Collector()


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "runs")


def supervisor(store: RunStore, sink: Collector, **kw) -> Supervisor:
    return Supervisor(store, trainer_module=STAND_IN, sink=sink, **kw)


def test_a_launched_run_streams_its_events_in_order_and_ends_finished(store, sink, monkeypatch):
    script_env(monkeypatch, steps=10, rate=200)
    sup = supervisor(store, sink)
    info = sup.launch(RunConfig(epochs=2))
    ended = sink.wait_ended(info.run_id)
    sup.close()

    assert isinstance(sink.notices[0], AttemptStarted)
    assert sink.notices[-1] is ended
    events = sink.events(info.run_id)
    assert isinstance(events[0], RunStart) and isinstance(events[-1], RunEnd)
    steps = sink.steps(info.run_id)
    assert len(steps) == 20 and in_order(steps)
    assert ended.verdict.kind == "finished"
    assert ended.attempt.state == "finished" and ended.attempt.exit_code == 0
    assert ended.attempt.steps == 20 and ended.attempt.epoch == 2 and ended.attempt.peak_memory
    run = store.resolve(info.run_id)
    assert run.exit_info()["returncode"] == 0 and run.exit_info()["signal"] is None
    assert json.loads(run.verdict_path.read_text())["kind"] == "finished"
    assert stat.S_IMODE(run.path.stat().st_mode) == 0o700
    assert run.config().backup_dir == str(store.root / "backups" / sup.session)
    assert [a.number for a in sup.history] == [1]


def test_stop_asks_the_trainer_to_finish_and_it_ends_stopped_with_exit_130(store, sink, monkeypatch):
    script_env(monkeypatch, steps=100_000, rate=50)
    sup = supervisor(store, sink)
    info = sup.launch(RunConfig())
    sink.wait_steps(3)
    sup.stop()
    ended = sink.wait_ended(info.run_id)
    sup.close()
    assert ended.attempt.exit_code == 130
    assert ended.attempt.state == "stopped" and ended.verdict.kind == "stopped"
    assert isinstance(sink.events(info.run_id)[-1], RunEnd)
    assert sink.events(info.run_id)[-1].status == "stopped"


def test_a_trainer_that_ignores_sigint_is_ended_by_escalation_and_leaves_no_process(store, sink, monkeypatch):
    script_env(monkeypatch, steps=100_000, rate=20, ignore_sigint=True)
    sup = supervisor(store, sink, grace_int=0.5, grace_term=0.5)
    info = sup.launch(RunConfig())
    sink.wait_steps(2)
    pgid = store.resolve(info.run_id).meta()["pgid"]
    assert group_alive(pgid)
    sup.stop()
    ended = sink.wait_ended(info.run_id)
    sup.close()
    assert ended.attempt.exit_code == -9
    assert store.resolve(info.run_id).exit_info()["signal"] == "SIGKILL"
    wait_until(lambda: not group_alive(pgid), what="the process group to be gone")


def test_a_second_stop_forces_without_waiting_out_the_sigint_grace(store, sink, monkeypatch):
    script_env(monkeypatch, steps=100_000, rate=20, ignore_sigint=True)
    # A SIGINT grace longer than the wait below: only forcing can end the run in time.
    sup = supervisor(store, sink, grace_int=600, grace_term=0.5)
    info = sup.launch(RunConfig())
    sink.wait_steps(2)
    sup.stop()
    sup.stop()
    ended = sink.wait_ended(info.run_id, timeout=60)
    sup.close()
    assert ended.attempt.exit_code == -9


def test_relaunch_while_live_stops_the_old_run_first(store, sink, monkeypatch):
    script_env(monkeypatch, steps=100_000, rate=50)
    sup = supervisor(store, sink)
    first = sup.launch(RunConfig(batch_size=32))
    sink.wait_steps(2)
    pgid = store.resolve(first.run_id).meta()["pgid"]
    second = sup.launch(RunConfig(batch_size=16), reason="halve-batch")
    assert not group_alive(pgid)
    # Notices come from another thread: wait for the new attempt's before reading the order.
    sink.wait(lambda ns: any(type(n).__name__ == "AttemptStarted" and n.attempt.run_id == second.run_id
                             for n in ns), what="the second attempt's start")
    kinds = [(type(n).__name__, n.attempt.run_id) for n in sink.notices if hasattr(n, "attempt")]
    assert kinds.index(("AttemptEnded", first.run_id)) < kinds.index(("AttemptStarted", second.run_id))
    assert sink.wait_ended(first.run_id).attempt.state == "stopped"
    sink.wait_steps(1, second.run_id)
    sup.stop()
    sink.wait_ended(second.run_id)
    sup.close()
    assert [(a.number, a.reason, a.state) for a in sup.history] == [
        (1, "launch", "stopped"), (2, "halve-batch", "stopped")]
    assert sup.history[1].config.batch_size == 16
    metas = [store.resolve(a.run_id).meta() for a in sup.history]
    assert {m["session"] for m in metas} == {sup.session}


@pytest.mark.parametrize(("end", "code", "state", "signal"), [
    ("sigkill", -9, "killed", "SIGKILL"),
    ("abort", -6, "killed", "SIGABRT"),
    ("oom", 3, "oom", None),
    ("crash", 4, "crashed", None),
])
def test_every_ending_is_recorded_by_the_reaper_and_named(store, sink, monkeypatch, end, code, state, signal):
    script_env(monkeypatch, steps=5, rate=100, end=end)
    sup = supervisor(store, sink)
    info = sup.launch(RunConfig())
    ended = sink.wait_ended(info.run_id)
    sup.close()
    record = store.resolve(info.run_id).exit_info()
    assert record["returncode"] == code and record["signal"] == signal
    assert ended.attempt.exit_code == code
    if state == "oom":
        assert ended.verdict.is_oom
    assert ended.attempt.state == state
    assert store.resolve(info.run_id).summary.state == state



def test_a_stop_before_the_trainer_has_its_handlers_still_reads_as_stopped(store, sink, monkeypatch):
    # Like a trainer still importing TensorFlow: SIGINT arrives before any handler.
    script_env(monkeypatch, steps=100_000, rate=20, unguarded_delay=60)
    sup = supervisor(store, sink)
    info = sup.launch(RunConfig())
    run = store.resolve(info.run_id)
    wait_until(run.trainer_pid, what="the trainer to start")
    sup.stop()
    ended = sink.wait_ended(info.run_id)
    sup.close()
    # -2 normally; 1 when the SIGINT lands inside Python's own start-up, and -15
    # when the interrupted start-up outlives the SIGINT grace (both on a loaded machine).
    assert ended.attempt.exit_code in (-2, 1, -15)
    assert ended.attempt.state == "stopped"
