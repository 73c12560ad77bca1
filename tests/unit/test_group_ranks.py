"""Each worker of a group read back from its run folder: its newest step (the
slowest beside rank 0 on screen and in `status --once`), and its record in
`memtui runs`. The files are the ones the group's reaper and workers write."""

from __future__ import annotations

import json
from pathlib import Path

from tests.recorded import cpu_snapshot
from tui.runs.ranks import last_step, rank_steps, slowest, worker_records
from tui.telemetry.snapshot import TrainerUsage, WorkerUsage
from tui.ui.widgets.memory import MemoryPanel

GIB = 1 << 30


def _steps(path: Path, upto: int, torn: bool = False) -> None:
    lines = [json.dumps({"v": 1, "type": "step", "global_step": n, "step": n, "epoch": 1}) for n in range(1, upto + 1)]
    lines.insert(0, json.dumps({"v": 1, "type": "run_start"}))
    text = "\n".join(lines) + "\n"
    if torn:
        text += '{"v": 1, "type": "step", "global_st'  # a line still being written
    path.write_text(text)


def test_each_ranks_newest_step_is_read_from_its_own_events_file(tmp_path: Path) -> None:
    _steps(tmp_path / "events.jsonl", 12)
    _steps(tmp_path / "events.rank1.jsonl", 9, torn=True)
    assert last_step(tmp_path / "events.rank1.jsonl") == 9
    assert last_step(tmp_path / "missing.jsonl") is None
    assert rank_steps(tmp_path, 3) == {0: 12, 1: 9}  # rank 2 has written no step yet
    assert slowest({0: 12, 1: 9, 2: 9}) == (1, 9) and slowest({}) is None


def _panel(steps: dict[int, int]) -> list[str]:
    snap = cpu_snapshot(1.0)
    workers = (WorkerUsage(0, 11, GIB), WorkerUsage(1, 12, GIB))
    trainer = TrainerUsage((10, 11, 12), 2 * GIB, 100.0, workers)
    panel = MemoryPanel()
    panel.rank_steps = steps
    panel.feed(type(snap)(t=snap.t, gpus=snap.gpus, host=snap.host, trainer=trainer, gpu_status=snap.gpu_status,
                          gpu_message=snap.gpu_message), draw=False)
    return panel.lines(100)


def test_the_panel_names_the_slowest_worker_beside_rank_0_and_each_rows_step() -> None:
    lines = _panel({0: 40, 1: 31})
    head = next(line for line in lines if "2 workers on localhost" in line)
    assert "slowest rank 1 at step 31" in head and "(rank 0: 40)" in head
    rows = [line for line in lines if line.lstrip().startswith("rank ")]
    assert rows[0].endswith("step 40") and rows[1].endswith("step 31")
    in_step = next(line for line in _panel({0: 40, 1: 40}) if "2 workers" in line)
    assert "all at step 40" in in_step and "slowest" not in in_step


def test_runs_lists_every_worker_of_a_group_and_its_status_names_the_failing_rank(tmp_path: Path) -> None:
    from trainer.config import RunConfig
    from tui.runs.folder import RunDir

    RunConfig(backend="jax", workers=2, batch_size=4).save(tmp_path / "config.json")
    _steps(tmp_path / "events.jsonl", 5)
    _steps(tmp_path / "events.rank1.jsonl", 4)
    workers = [{"rank": 0, "pid": 1, "returncode": -15, "signal": "SIGTERM", "stopped_by_group": "SIGTERM",
                "events": "events.jsonl", "log": "trainer.log", "host": "gpu1"},
               {"rank": 1, "pid": 2, "returncode": -9, "signal": "SIGKILL", "stopped_by_group": None,
                "events": "events.rank1.jsonl", "log": "trainer.rank1.log", "host": "gpu2", "lost_connection": False}]
    (tmp_path / "exit.json").write_text(json.dumps({"returncode": -9, "signal": "SIGKILL", "world_size": 2,
                                                    "failed_rank": 1, "workers": workers}))
    records = worker_records(tmp_path)
    assert [(w["rank"], w["host"], w["steps"], w["signal"]) for w in records] == [
        (0, "gpu1", 5, "SIGTERM"), (1, "gpu2", 4, "SIGKILL")]
    assert RunDir(tmp_path).status == "rank 1: killed by SIGKILL"
    assert worker_records(tmp_path / "nothing") == []


def test_a_kill_is_judged_against_the_failing_workers_own_memory_and_host(tmp_path: Path) -> None:
    """Rank 0's RSS (what the watch samples) says nothing about rank 1's kill;
    a remote worker's host is its own size, not this one's."""
    from tui.runs.folder import RunDir
    from tui.supervision.groupends import failing_memory

    run = RunDir(tmp_path)
    here = 24 * GIB
    local = {"failed_rank": 1, "workers": [{"rank": 0}, {"rank": 1}]}
    assert failing_memory(run, local, 5 * GIB, here) == (None, here)  # rank 1's own events tell its memory
    assert failing_memory(run, {"failed_rank": 0, "workers": [{"rank": 0}]}, 5 * GIB, here) == (5 * GIB, here)
    assert failing_memory(run, {}, 5 * GIB, here) == (5 * GIB, here)  # one process
    (tmp_path / "hostmem.rank1.json").write_text(json.dumps({"rank": 1, "rss": GIB, "host_total": 64 * GIB}))
    remote = {"failed_rank": 1, "workers": [{"rank": 0, "host": "a"}, {"rank": 1, "host": "b"}]}
    assert failing_memory(run, remote, 5 * GIB, here) == (None, 64 * GIB)
