"""trainer/protocol.py, oom.py, hookspec.py, memreading.py and backends.py, loaded by path.

The boot folder is trainer/scripthook/boot/, so trainer/ is two levels above
this package. The modules are stdlib-only and registered under private names
(`_memtui_hook.protocol`, ...) so they never meet a `trainer` package the user
may have.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TRAINER_DIR = Path(__file__).resolve().parents[3]


def load(name: str) -> ModuleType:
    """trainer/<name>.py as module `_memtui_hook.<name>` (loaded once)."""
    qualified = f"_memtui_hook.{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, TRAINER_DIR / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {TRAINER_DIR / name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[qualified]
        raise
    return module
