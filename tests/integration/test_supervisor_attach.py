"""Runs outlive the memtui that started them: kill it, hang it up, attach again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.supervision import STAND_IN, Collector, group_alive, in_order, script_env
from tests.waiting import WAIT, wait_until
from trainer.config import RunConfig
from trainer.protocol import RunEnd, RunStart, Step, decode
from tui.runs.store import RunStore
from tui.supervision.supervisor import AttachError, Supervisor

# A memtui-like process: a Supervisor that launches one run and then waits to be killed.
CHILD = textwrap.dedent("""
    import sys, time
    from trainer.config import RunConfig
    from tui.runs.store import RunStore
    from tui.supervision.supervisor import Supervisor
    sup = Supervisor(RunStore(sys.argv[1]), trainer_module=sys.argv[2], sink=lambda n: None)
    info = sup.launch(RunConfig())
    print(info.run_dir, flush=True)
    time.sleep(600)
""")


def stored_steps(run) -> list[Step]:
    return [e for e in run.events()[0] if isinstance(e, Step)]


def start_memtui_like(store: RunStore) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(store.root), STAND_IN],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGHUP, signal.SIGTERM])
def test_the_run_outlives_memtui_and_an_attach_replays_everything_then_follows(tmp_path, monkeypatch, signum):
    script_env(monkeypatch, steps=100_000, rate=40)
    store = RunStore(tmp_path / "runs")
    child, run_path = start_memtui_like(store)
    run = store.resolve(run_path)
    wait_until(lambda: len(stored_steps(run)) >= 5, what="steps before the kill")

    child.send_signal(signum)
    child.wait(WAIT)
    before = len(stored_steps(run))
    wait_until(lambda: len(stored_steps(run)) > before + 5, what="the trainer to go on after memtui died")
    assert run.is_live()
    listed = store.list_runs()[0]
    assert listed.id == run.id and listed.live and listed.state == "live"

    sink = Collector()
    sup = Supervisor(store, trainer_module=STAND_IN, sink=sink)
    attached = sup.attach(run.path)
    assert not attached.read_only and attached.reason == "attach"
    on_disk_at_attach = len(stored_steps(run))
    sink.wait_steps(on_disk_at_attach + 5, run.id)
    sup.stop()
    ended = sink.wait_ended(run.id)
    sup.close()

    shown = sink.steps(run.id)
    assert isinstance(sink.events(run.id)[0], RunStart)
    assert in_order(shown) and shown[0].step == 1
    assert shown == stored_steps(run)  # nothing lost, nothing shown twice
    assert ended.attempt.state == "stopped" and ended.attempt.exit_code == 130
    assert isinstance(sink.events(run.id)[-1], RunEnd)
    assert not group_alive(run.meta()["pgid"])
    assert run.verdict().kind == "stopped"


def test_a_second_attach_is_read_only_and_says_so(tmp_path, monkeypatch):
    script_env(monkeypatch, steps=100_000, rate=40)
    store = RunStore(tmp_path / "runs")
    owner_sink, viewer_sink = Collector(), Collector()
    owner = Supervisor(store, trainer_module=STAND_IN, sink=owner_sink)
    info = owner.launch(RunConfig())
    owner_sink.wait_steps(2)

    viewer = Supervisor(store, trainer_module=STAND_IN, sink=viewer_sink)
    seen = viewer.attach(info.run_dir)
    assert seen.read_only
    viewer_sink.wait(lambda _: viewer_sink.problems(), what="the read-only notice")
    assert "read-only" in viewer_sink.problems()[0]

    viewer.stop()
    viewer_sink.wait(lambda _: len(viewer_sink.problems()) >= 2, what="the refusal")
    assert "read-only" in viewer_sink.problems()[1]
    assert store.resolve(info.run_id).is_live()

    owner.stop()
    assert owner_sink.wait_ended(info.run_id).attempt.state == "stopped"
    assert viewer_sink.wait_ended(info.run_id).attempt.state == "stopped"
    owner.close()
    viewer.close()
    assert viewer_sink.steps(info.run_id) == owner_sink.steps(info.run_id)


def test_detach_leaves_the_run_going_and_hands_control_to_the_next_attach(tmp_path, monkeypatch):
    script_env(monkeypatch, steps=100_000, rate=40)
    store = RunStore(tmp_path / "runs")
    first_sink, second_sink = Collector(), Collector()
    first = Supervisor(store, trainer_module=STAND_IN, sink=first_sink)
    info = first.launch(RunConfig())
    first_sink.wait_steps(2)
    first.detach()
    assert first.current is None
    assert store.resolve(info.run_id).is_live()
    assert store.newest_live().id == info.run_id

    second = Supervisor(store, trainer_module=STAND_IN, sink=second_sink)
    assert not second.attach(info.run_dir).read_only
    second.stop()
    assert second_sink.wait_ended(info.run_id).attempt.state == "stopped"
    first.close()
    second.close()


def test_attaching_to_a_damaged_run_says_why_it_cannot(tmp_path):
    store = RunStore(tmp_path / "runs")
    broken = store.root / "20250101-000000-dead"
    broken.mkdir()
    (broken / "events.jsonl").write_text("")
    sup = Supervisor(store, trainer_module=STAND_IN, sink=Collector())
    with pytest.raises(AttachError, match=r"damaged.*config\.json is missing"):
        sup.attach(broken)
    sup.close()


def test_attaching_to_an_ended_run_replays_it_and_reports_the_stored_verdict(tmp_path, monkeypatch):
    script_env(monkeypatch, steps=5, rate=200, end="oom")
    store = RunStore(tmp_path / "runs")
    sink = Collector()
    sup = Supervisor(store, trainer_module=STAND_IN, sink=sink)
    info = sup.launch(RunConfig())
    first = sink.wait_ended(info.run_id)
    sup.close()

    again = Collector()
    viewer = Supervisor(store, trainer_module=STAND_IN, sink=again)
    viewer.attach(info.run_dir)
    replay = again.wait_ended(info.run_id)
    viewer.close()
    assert replay.verdict == first.verdict
    assert again.events(info.run_id) == sink.events(info.run_id)
    lines = (info.run_dir / "events.jsonl").read_text().splitlines()
    assert [decode(line) for line in lines] == again.events(info.run_id)
    assert os.path.exists(info.run_dir / "exit.json")
