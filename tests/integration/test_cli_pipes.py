"""`memtui` in a shell pipeline: a reader that leaves early gets no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_memtui_runs_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for n in range(1000):  # ~90 KB of listing: more than a pipe holds, so writes hit the closed end
        (runs / f"20260101-{n:06d}-beef").mkdir(parents=True)
    err = tmp_path / "stderr"
    # A shell is the natural way to build a pipeline in a test; no user input reaches it.
    script = (f"{sys.executable} -m tui.cli runs --runs-dir {runs} 2>{err} | head -n 1 >/dev/null; "
              "echo ${PIPESTATUS[0]}")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert err.read_text() == "", err.read_text()
    assert done.stdout.strip() in ("0", "141")
