"""The runs root and its folders: private, listed newest first, damage named, never a crash."""

from __future__ import annotations

import json
import os
import stat

import pytest

from tests.supervision import STAND_IN, Collector, script_env
from trainer.config import RunConfig
from tui import cli
from tui.runs.store import RunStore, RunStoreError, live_run_summary
from tui.supervision.supervisor import Supervisor


def make_run(store: RunStore, attempt: int = 1, **cfg) -> object:
    return store.new_run(RunConfig(**cfg), session="s1", attempt=attempt, reason="launch", trainer_module=STAND_IN)


def test_a_new_run_is_a_private_folder_with_its_config_and_meta(tmp_path):
    store = RunStore(tmp_path / "deep" / "runs")
    run = make_run(store, batch_size=16)
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(run.path.stat().st_mode) == 0o700
    assert run.config() == RunConfig(batch_size=16)
    meta = run.meta()
    assert (meta["session"], meta["attempt"], meta["reason"], meta["trainer_module"]) == ("s1", 1, "launch", STAND_IN)
    assert run.summary.config == "small b16 256px"
    assert not run.is_live()


def test_runs_are_listed_newest_first_and_resolved_by_id_or_prefix(tmp_path):
    store = RunStore(tmp_path / "runs")
    for name in ("20250101-000000-aaaa", "20250301-000000-bbbb", "20250201-000000-cccc"):
        (store.root / name).mkdir()
        RunConfig().save(store.root / name / "config.json")
    assert [s.id for s in store.list_runs()] == ["20250301-000000-bbbb", "20250201-000000-cccc",
                                                 "20250101-000000-aaaa"]
    assert store.resolve("202503").id == "20250301-000000-bbbb"
    assert store.resolve(str(store.root / "20250101-000000-aaaa")).id == "20250101-000000-aaaa"
    with pytest.raises(RunStoreError, match="matches 3 runs"):
        store.resolve("2025")
    with pytest.raises(RunStoreError, match="no run 'nope'"):
        store.resolve("nope")


@pytest.mark.parametrize(("damage", "reason"), [
    ("no-config", "config.json is missing"),
    ("bad-config", "not valid JSON"),
    ("bad-value", "--batch-size: 0 is out of range"),
    ("truncated", "events.jsonl is truncated"),
    ("bad-meta", "meta.json is not a JSON object"),
])
def test_a_damaged_folder_is_listed_as_damaged_with_the_reason(tmp_path, damage, reason):
    store = RunStore(tmp_path / "runs")
    good = make_run(store, attempt=1)
    bad = make_run(store, attempt=2)
    if damage == "no-config":
        bad.config_path.unlink()
    elif damage == "bad-config":
        bad.config_path.write_text("{ nope")
    elif damage == "bad-value":
        bad.config_path.write_text(json.dumps({"batch_size": 0}))
    elif damage == "truncated":
        bad.events_path.write_text('{"v":1,"type":"step","t":1,"epo')
    else:
        bad.meta_path.write_text("[1, 2]")
    listed = {s.id: s for s in store.list_runs()}
    assert listed[bad.id].state == "damaged" and reason in listed[bad.id].damaged
    assert listed[bad.id].status.startswith("damaged: ")
    assert listed[good.id].damaged is None


def test_a_file_where_the_runs_folder_should_be_is_one_clear_line(tmp_path):
    target = tmp_path / "runs"
    target.write_text("oops")
    with pytest.raises(RunStoreError) as err:
        RunStore(target)
    message = str(err.value)
    assert "\n" not in message and str(target) in message and "is a file" in message and "--runs-dir" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere; covered by the uncreatable case")
def test_a_runs_folder_that_is_not_writable_is_one_clear_line(tmp_path):
    target = tmp_path / "runs"
    target.mkdir(mode=0o500)
    with pytest.raises(RunStoreError, match=r"not writable.*chmod u\+rwx"):
        RunStore(target)


def test_a_runs_folder_that_cannot_be_created_is_one_clear_line(tmp_path):
    parent = tmp_path / "afile"
    parent.write_text("x")
    with pytest.raises(RunStoreError, match="part of that path is a file") as err:
        RunStore(parent / "runs")
    assert "\n" not in str(err.value)


def test_memtui_runs_lists_and_prints_json_and_reports_a_bad_root_in_one_line(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    run = make_run(store)
    (store.root / "20200101-000000-dead").mkdir()
    assert cli.main(["runs", "--runs-dir", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert run.id in out and "damaged: config.json is missing" in out
    assert cli.main(["runs", "--json", "--runs-dir", str(store.root)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == [run.id, "20200101-000000-dead"]
    assert rows[1]["state"] == "damaged"
    (tmp_path / "file").write_text("")
    assert cli.main(["runs", "--runs-dir", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err


def test_a_stale_pid_from_another_process_does_not_make_a_run_live(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = make_run(store)
    run.update_meta(reaper_pid=os.getpid(), pgid=os.getpgid(0))  # alive, but not this run's
    run.pid_path.write_text(f"{os.getppid()}\n")
    assert not run.is_live()
    assert store.newest_live() is None


def test_the_status_bar_line_names_the_newest_live_run(tmp_path, monkeypatch):
    script_env(monkeypatch, steps=1000, rate=40)
    store = RunStore(tmp_path / "runs")
    assert live_run_summary(store.root) is None
    assert live_run_summary(tmp_path / "missing") is None
    sink = Collector()
    sup = Supervisor(store, trainer_module=STAND_IN, sink=sink)
    sup.launch(RunConfig(epochs=2))
    sink.wait_steps(3)
    line = live_run_summary(store.root)
    sup.stop()
    sink.wait_ended()
    sup.close()
    assert line is not None and line.startswith("run 1 ep1 ") and "/1000 · loss " in line
    assert live_run_summary(store.root) is None
