"""The event follower reads what the trainer wrote, whatever state the file is in."""

from __future__ import annotations

import os

from tests.supervision import STAND_IN, Collector, in_order, script_env
from tests.waiting import wait_until
from trainer.config import RunConfig
from trainer.protocol import Step, encode
from tui.runs.store import RunStore
from tui.supervision.follow import EventFollower
from tui.supervision.supervisor import Supervisor


def step_line(n: int) -> str:
    return encode("step", epoch=1, step=n, loss=1.0, batch_size=32, step_seconds=0.01,
                  examples_per_second=3200.0, memory={"peak": n})


def test_a_file_that_does_not_exist_yet_is_waited_for(tmp_path):
    path = tmp_path / "events.jsonl"
    follower = EventFollower(path)
    assert follower.poll() == ([], 0)
    path.write_text(step_line(1) + "\n")
    events, garbage = follower.poll()
    assert [e.step for e in events] == [1] and garbage == 0


def test_a_partial_line_is_kept_until_its_newline_arrives(tmp_path):
    path = tmp_path / "events.jsonl"
    line = step_line(7)
    with open(path, "w") as fh:
        fh.write(step_line(6) + "\n" + line[:20])
        fh.flush()
        follower = EventFollower(path)
        events, garbage = follower.poll()
        assert [e.step for e in events] == [6] and garbage == 0
        assert follower.pending_partial
        fh.write(line[20:] + "\n")
        fh.flush()
        events, garbage = follower.poll()
    assert [e.step for e in events] == [7] and garbage == 0


def test_garbage_lines_are_counted_and_skipped(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([step_line(1), "not json", '{"v": 99, "type": "step"}', step_line(2), "[]"]) + "\n")
    follower = EventFollower(path)
    events, garbage = follower.poll()
    assert [e.step for e in events] == [1, 2] and garbage == 3
    assert follower.garbage == 3


def test_a_line_left_without_newline_when_the_writer_died_counts_as_garbage(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(step_line(1) + "\n" + step_line(2)[:30])
    follower = EventFollower(path)
    assert len(follower.poll()[0]) == 1
    assert follower.finish() == ([], 1)


def test_a_file_deleted_mid_run_is_still_read_through_the_open_descriptor(tmp_path):
    path = tmp_path / "events.jsonl"
    with open(path, "w") as fh:
        fh.write(step_line(1) + "\n")
        fh.flush()
        follower = EventFollower(path)
        assert len(follower.poll()[0]) == 1
        os.unlink(path)
        fh.write(step_line(2) + "\n")
        fh.flush()
        assert [e.step for e in follower.poll()[0]] == [2]
        assert follower.poll() == ([], 0)
    assert follower.deleted and "deleted" in follower.notes[0]


def test_a_large_backlog_is_read_completely_and_in_order(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(step_line(n) + "\n" for n in range(1, 120_001)))
    follower = EventFollower(path)
    seen: list[int] = []
    while batch := follower.poll()[0]:
        seen.extend(e.step for e in batch)
    assert seen == list(range(1, 120_001))


def test_the_supervisor_counts_garbage_and_partial_lines_from_a_real_trainer(tmp_path, monkeypatch):
    script_env(monkeypatch, steps=40, rate=200, garbage_every=10, partial_every=7)
    sink = Collector()
    sup = Supervisor(RunStore(tmp_path / "runs"), trainer_module=STAND_IN, sink=sink)
    info = sup.launch(RunConfig(epochs=1))
    ended = sink.wait_ended(info.run_id)
    sup.close()
    assert ended.attempt.state == "finished"
    steps = sink.steps(info.run_id)
    assert len(steps) == 40 and in_order(steps)
    assert sink.garbage() == 4


def test_deleting_events_jsonl_mid_run_loses_nothing_on_screen(tmp_path, monkeypatch):
    script_env(monkeypatch, steps=60, rate=60)
    sink = Collector()
    sup = Supervisor(RunStore(tmp_path / "runs"), trainer_module=STAND_IN, sink=sink)
    info = sup.launch(RunConfig(epochs=1))
    sink.wait_steps(5)
    os.unlink(info.run_dir / "events.jsonl")
    ended = sink.wait_ended(info.run_id)
    sup.close()
    assert ended.attempt.state == "finished"
    steps = sink.steps(info.run_id)
    assert [s.step for s in steps] == list(range(1, 61))
    wait_until(lambda: any("deleted" in p for p in sink.problems()), what="the deletion note")
    assert all(isinstance(s, Step) for s in steps)
