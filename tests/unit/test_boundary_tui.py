"""The monitor never imports TensorFlow or JAX; the trainer's contract never imports the UI.

Checked in fresh interpreters, because an import in any test would pollute
sys.modules for the rest of the session.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str) -> list[str]:
    pkg_dir = ROOT / package.replace(".", "/")
    return [package] + [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(pkg_dir)])]


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


def test_every_tui_module_imports_without_tensorflow_or_jax() -> None:
    packages = sorted({str(p.parent.relative_to(ROOT)).replace("/", ".") for p in (ROOT / "tui").rglob("__init__.py")})
    modules = [m for p in packages for m in _modules(p)]
    modules = [m for m in modules if not m.endswith("__main__")]
    loaded = _imported_after(modules)
    assert not {m for m in loaded if m.split(".")[0] in ("tensorflow", "keras", "jax", "jaxlib")}, loaded


@pytest.mark.parametrize("command", ["status", "diagnose", "runs"])
def test_non_screen_commands_do_not_load_textual(command: str) -> None:
    loaded = _imported_after(["tui.cli", f"tui.cli.commands.{ {'find-batch': 'findbatch'}.get(command, command)}"])
    assert "textual" not in loaded, f"memtui {command} imported Textual"
