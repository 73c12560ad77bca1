"""memtui's stdlib-only trainer modules, loaded into the user's Python by path.

The boot folder is trainer/scripthook/boot/, so trainer/ is three levels above
this package. Its stdlib-only modules (protocol, eventlog, oom, hookspec,
memreading, stepreport, the backends package, framework_internals) are loaded
as submodules of a package named `_memtui_trainer` whose path is that folder:
they import each other relatively, so they run the same as `trainer.protocol`
in memtui's own processes and as `_memtui_trainer.protocol` here, and never
meet memtui's `trainer` package (the user's Python need not have memtui
installed) or a `trainer` package of the user's. trainer/__init__.py is not
run for this package.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from pathlib import Path
from types import ModuleType

TRAINER_DIR = Path(__file__).resolve().parents[3]
PACKAGE = "_memtui_trainer"


def _package() -> ModuleType:
    package = sys.modules.get(PACKAGE)
    if package is None:
        package = ModuleType(PACKAGE, "memtui's trainer modules, loaded by path")
        spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
        spec.submodule_search_locations = [str(TRAINER_DIR)]
        package.__spec__ = spec
        package.__path__ = [str(TRAINER_DIR)]
        package.__package__ = PACKAGE
        sys.modules[PACKAGE] = package
    return package


def load(name: str) -> ModuleType:
    """trainer/<name>.py (or the package trainer/<name>/) as `_memtui_trainer.<name>`, loaded once."""
    _package()
    return importlib.import_module(f"{PACKAGE}.{name}")
