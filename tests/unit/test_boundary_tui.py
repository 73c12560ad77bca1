"""The commands without a screen never load Textual. (Every tui module imports
without TensorFlow or JAX: test_imports.py.)

Checked in fresh interpreters, because an import in any test would pollute
sys.modules for the rest of the session.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported_after(modules: list[str]) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'jax', 'jaxlib', 'textual', 'tui'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("command", ["status", "diagnose", "runs"])
def test_non_screen_commands_do_not_load_textual(command: str) -> None:
    loaded = _imported_after(["tui.cli", f"tui.cli.commands.{ {'find-batch': 'findbatch'}.get(command, command)}"])
    assert "textual" not in loaded, f"memtui {command} imported Textual"
