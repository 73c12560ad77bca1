"""Every module in tui/ imports, and the monitor never imports TensorFlow or JAX.

The modules are found on disk with pkgutil (nothing is imported to find them),
so a new module is tested the day it is added. They are imported in one fresh
interpreter, never in this one (an import here would pollute sys.modules for
the rest of the session): each import has its own try, and before each one
every `tui` module already loaded is forgotten, so a module that imports only
because another was loaded first, or only from one side of an import cycle,
fails under its own name.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("tensorflow", "keras", "jax", "jaxlib")


def tui_modules() -> list[str]:
    """`tui` and every module and package below it. `__main__` modules are left
    out: importing one runs the command (`python -m tui.cli` is run by the CLI tests)."""
    found = ["tui"]

    def walk(folder: Path, prefix: str) -> None:
        for info in pkgutil.iter_modules([str(folder)]):
            if info.name == "__main__":
                continue
            found.append(prefix + info.name)
            if info.ispkg:
                walk(folder / info.name, f"{prefix}{info.name}.")

    walk(ROOT / "tui", "tui.")
    return found


MODULES = tui_modules()

PROBE = """
import importlib, json, sys
failed, heavy = {}, {}
for name in json.loads(sys.argv[1]):
    for old in [m for m in sys.modules if m == "tui" or m.startswith("tui.")]:
        del sys.modules[old]
    try:
        importlib.import_module(name)
    except ImportError as e:
        failed[name] = f"{type(e).__name__}: {e}"
    except Exception as e:  # an import that raises anything else is broken too
        failed[name] = f"{type(e).__name__} while importing: {e}"
    tops = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2].split()))
    if tops:
        heavy[name] = tops
print(json.dumps({"failed": failed, "heavy": heavy}))
"""


@pytest.fixture(scope="module")
def imported() -> dict[str, Any]:
    argv = [sys.executable, "-c", PROBE, json.dumps(MODULES), " ".join(FORBIDDEN)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_walk_finds_every_package_and_module() -> None:
    on_disk = {p for p in (ROOT / "tui").rglob("*.py") if "__pycache__" not in p.parts and p.stem != "__main__"}
    assert len(MODULES) == len(on_disk), "a .py file under tui/ outside a package (no __init__.py)?"
    assert {"tui.cli", "tui.ui.app", "tui.supervision.supervisor"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports(imported: dict[str, Any], module: str) -> None:
    assert module not in imported["failed"], imported["failed"].get(module)


def test_the_monitor_never_imports_tensorflow_or_jax(imported: dict[str, Any]) -> None:
    # Each entry: a tui module and what was loaded once it was imported (first offender first).
    assert not imported["heavy"], next(iter(imported["heavy"].items()))
