"""memtui's agent on a worker's host (`--hosts`), spoken to as memtui speaks to it,
over its stdin and stdout (here without SSH in between; over a real sshd:
tests/e2e/test_hosts_ssh.py). Its workers are real processes, kept by the
agent's keeper, so they outlive the connection that started them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.waiting import wait_until

# A worker: writes an event and a log line into its run folder (as memtui named
# it), then waits for RUN/stop.at and ends with its content as exit code.
WORKER = r"""
import pathlib, sys, time
run = pathlib.Path(sys.argv[1])
with open(run / "events.rank1.jsonl", "a") as f:
    f.write('{"type":"step","step":1}\n')
print("worker says hello from", run, flush=True)
while not (run / "stop.at").exists():
    time.sleep(0.05)
sys.exit(int((run / "stop.at").read_text()))
"""
# Rank 0: its script hook says hello, it names the stop step, then waits to be told to end.
LEADER = r"""
import pathlib, sys, time
run = pathlib.Path(sys.argv[1])
(run / "hook.json").write_text('{"pid": 1}')
time.sleep(0.3)
(run / "stop.at").write_text("7\n")
time.sleep(600)
"""


LEASE = "3"  # seconds the keeper keeps a worker with no follower


class Agent:
    def __init__(self, run_dir: Path, rank: int, code: str | None = None, offsets: tuple[int, int] = (0, 0)) -> None:
        """`agent worker` with a job (`code`), or `agent follow` of the same worker again."""
        if code is not None:
            args = ["worker", "--run-dir", str(run_dir), "--rank", str(rank), "--local-rank", "0", "--world", "2",
                    "--address", "127.0.0.1:1", "--lease", LEASE]
        else:
            args = ["follow", "--run-dir", str(run_dir), "--rank", str(rank), "--events-from", str(offsets[0]),
                    "--log-from", str(offsets[1])]
        self.proc = subprocess.Popen([sys.executable, "-m", "tui.supervision.agent", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages: list[dict[str, Any]] = []
        if code is not None:
            self.send(json.dumps({"argv": [sys.executable, "-c", code, str(run_dir)], "cwd": None,
                                  "env": {"MEMTUI_PROBE": f"run={run_dir}"}, "files": {"config.json": "{}"}}))

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def until(self, kind: str) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            assert line, f"the agent ended before sending {kind!r}: {self.proc.stderr.read().decode()[-2000:]}"
            message = json.loads(line)
            self.messages.append(message)
            if message["t"] == kind:
                return message
        raise AssertionError(f"no {kind!r} from the agent")

    def text(self, file: str) -> str:
        return "".join(m["text"] for m in self.messages if m["t"] == "out" and m["file"] == file)


def test_the_agent_runs_the_worker_in_a_private_folder_and_sends_back_its_files_and_ending(tmp_path: Path) -> None:
    run = tmp_path / f"run-{tmp_path.name}"  # the worker's folder on the host is named after the run
    run.mkdir()
    agent = Agent(run, 1, WORKER)
    started = agent.until("started")
    private = Path(started["folder"])
    assert private != run and (private / "config.json").read_text() == "{}"
    agent.until("mem")
    wait_until(lambda: (private / "events.rank1.jsonl").exists(), what="the worker's event")
    agent.send("file stop.at 5\\n")  # what memtui passes on from rank 0's agent
    end = agent.until("end")
    assert end["returncode"] == 5  # the worker read the step memtui passed on, in its own folder
    assert agent.text("events") == '{"type":"step","step":1}\n'
    assert f"worker says hello from {private}" in agent.text("log")  # RUN became the private folder
    assert agent.proc.wait(timeout=10) == 0 and not private.exists()
    assert list(run.iterdir()) == []  # nothing written into the local run folder's path on this host
    assert b"Fatal Python error" not in agent.proc.stderr.read()


def test_rank_0s_hook_hello_and_stop_step_are_sent_and_memtuis_signal_ends_the_worker(tmp_path: Path) -> None:
    agent = Agent(tmp_path, 0, LEADER)
    hello = agent.until("file")  # memtui keeps it in the run folder: the watch looks for the hook there
    assert hello["name"] == "hook.json" and hello["text"] == '{"pid": 1}'
    relayed = agent.until("file")
    assert relayed["name"] == "stop.at" and relayed["text"] == "7\n"
    agent.send("signal TERM")
    assert agent.until("end")["returncode"] == -15
    assert agent.proc.wait(timeout=10) == 0


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_a_dropped_connection_leaves_the_worker_running_and_a_new_one_follows_it_from_where_it_was(
    tmp_path: Path
) -> None:
    run = tmp_path / f"run-{tmp_path.name}"
    run.mkdir()
    first = Agent(run, 1, WORKER)
    pid = first.until("started")["pid"]
    while '"step":1' not in first.text("events"):
        first.until("out")
    offsets = (len(first.text("events").encode()), len(first.text("log").encode()))
    assert first.proc.stdin is not None
    first.proc.stdin.close()  # the connection dropped
    assert first.proc.wait(timeout=10) == 0
    assert not _gone(pid), "the worker went with the connection"
    again = Agent(run, 1, offsets=offsets)
    assert again.until("started")["pid"] == pid  # the same worker, found again
    again.send("file stop.at 0\\n")
    assert again.until("end")["returncode"] == 0
    assert again.text("events") == ""  # nothing sent twice: it went on from the offsets memtui had
    assert again.proc.wait(timeout=10) == 0


def test_when_memtui_never_comes_back_the_keeper_stops_the_worker_after_the_lease(tmp_path: Path) -> None:
    agent = Agent(tmp_path, 0, LEADER)
    pid = agent.until("started")["pid"]
    folder = Path(agent.messages[-1]["folder"])
    assert agent.proc.stdin is not None
    agent.proc.stdin.close()  # memtui's reaper was killed, or the network never came back
    assert agent.proc.wait(timeout=10) == 0
    wait_until(lambda: (folder / "end.json").exists(), timeout=float(LEASE) + 20, what="the keeper to stop it")
    assert _gone(pid)
    ended = json.loads((folder / "end.json").read_text())  # left for a follower that never comes
    assert ended == {"returncode": -15, "lease_ran_out": True}  # SIGTERM from its keeper: no orphan keeps a GPU
    wait_until(lambda: not folder.exists(), timeout=float(LEASE) + 20, what="the folder to go")
