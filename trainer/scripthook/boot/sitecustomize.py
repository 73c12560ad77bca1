"""memtui's start-up hook for a user's own Keras script (see trainer/hookspec.py).

Python's `site` imports this because memtui put this folder first on
PYTHONPATH. In order:

1. Without MEMTUI_HOOK in the environment, nothing but step 4.
2. The host memory limit (RLIMIT_AS), before anything else is loaded.
3. `_memtui_hook.boot.start`: removes this folder from PYTHONPATH and
   MEMTUI_HOOK from the environment (child processes run unhooked), writes
   RUN_DIR/hook.json, and installs a post-import hook that patches Keras when
   the script imports it. Nothing imports keras or tensorflow here.
4. Chains to the `sitecustomize` this one shadows (as ddtrace does), so the
   user's or the distribution's still runs; its errors are reported by `site`
   as they would be without memtui.

A failure in memtui's own code is one `memtui hook:` line on stderr; the
script then runs unhooked.
"""

import os
import sys


def _limit_address_space() -> None:
    import json
    import resource

    raw = os.environ.get("MEMTUI_HOOK", "")
    megabytes = json.loads(raw).get("host_memory_limit") if raw.startswith("{") else None
    if isinstance(megabytes, int) and not isinstance(megabytes, bool) and megabytes > 0:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = megabytes * 1024 * 1024
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _chain(here: str) -> None:
    """Run the next `sitecustomize` on sys.path after this folder, if any."""
    import importlib.machinery
    import importlib.util

    def same(entry: str) -> bool:
        try:
            return os.path.realpath(entry or os.curdir) == here
        except (OSError, ValueError):
            return False

    rest = [p for p in sys.path if not same(p)]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


def _main() -> None:
    here = os.path.realpath(os.path.dirname(os.path.abspath(__file__)))
    if "MEMTUI_HOOK" in os.environ:
        try:
            _limit_address_space()
        except Exception as exc:
            print(f"memtui hook: cannot set the host memory limit ({type(exc).__name__}: {exc})",
                  file=sys.stderr, flush=True)
        try:
            from _memtui_hook.boot import start

            start(here)
        except Exception as exc:
            print(f"memtui hook: not active ({type(exc).__name__}: {exc}); the script runs without it",
                  file=sys.stderr, flush=True)
    _chain(here)


_main()
