"""Run a function when a module finishes importing, without importing it.

A meta-path finder that asks the other finders for the module's spec and
wraps its loader, so `after(module)` runs right after the module's own code,
before the importer gets it back. A module already imported gets `after` at
once. `after` failing never breaks the import: it goes to `on_error`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

After = Callable[[ModuleType], None]
OnError = Callable[[str, BaseException], None]


class _Loader:
    """Duck-typed (importlib.abc costs start-up time every hooked process pays)."""

    def __init__(self, inner: Any, name: str, finder: PostImportFinder) -> None:
        self.inner = inner
        self.name = name
        self.finder = finder

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        try:
            self.inner.exec_module(module)  # the module's own errors propagate unchanged
        finally:
            # Once loaded, the module looks as if no one had been in between.
            if module.__spec__ is not None:
                module.__spec__.loader = self.inner
            module.__loader__ = self.inner
        self.finder.fire(self.name, module)

    def __getattr__(self, attr: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self.inner, attr)


class PostImportFinder:
    def __init__(self, on_error: OnError) -> None:
        self.hooks: dict[str, After] = {}
        self.on_error = on_error
        self._busy: set[str] = set()

    def when_imported(self, name: str, after: After) -> None:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__spec__", None) is not None:
            self._call(name, after, module)
            return
        self.hooks[name] = after
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> ModuleSpec | None:
        if fullname not in self.hooks or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._busy.discard(fullname)
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader, fullname, self)  # type: ignore[assignment]
        return spec

    def fire(self, name: str, module: ModuleType) -> None:
        after = self.hooks.pop(name, None)
        if not self.hooks and self in sys.meta_path:
            sys.meta_path.remove(self)
        if after is not None:
            self._call(name, after, module)

    def _call(self, name: str, after: After, module: ModuleType) -> None:
        try:
            after(module)
        except Exception as exc:
            self.on_error(f"after importing {name}", exc)
