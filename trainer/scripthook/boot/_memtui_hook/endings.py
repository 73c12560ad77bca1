"""How a fit() call ended, as events: run_end, and `oom` or `error` before it.

The exception itself always goes on unchanged, as without memtui: the script
handles it or dies of it with its own traceback and its own exit status (an
out-of-memory error included; memtui reads the `oom` event, not the status).
"""

from __future__ import annotations

import traceback
from typing import Any

from _memtui_hook.fitcall import FitCall
from _memtui_hook.state import HookState
from _memtui_hook.trainer_files import load

_backends = load("backends")


def end(state: HookState, call: FitCall, status: str, **extra: Any) -> None:
    try:
        state.writer.emit("run_end", phase=call.phase, status=status, steps=state.global_steps,
                          phase_steps=state.global_steps - call.steps_before, peak_memory=call.callback.read_peak(),
                          hook_errors=list(state.problems.messages), not_applied=state.ledger.records(call.phase),
                          **extra)
    except Exception as exc:
        state.problems.report("run_end", exc, "the run's end is not in the events")


def failed(state: HookState, call: FitCall, exc: BaseException) -> None:
    """Report how fit() ended by `exc` (which the caller then re-raises)."""
    try:
        if isinstance(exc, KeyboardInterrupt):
            end(state, call, "stopped", forced=True)
        elif isinstance(exc, SystemExit):
            end(state, call, "finished" if exc.code in (None, 0) else "error")
        elif _backends.is_oom(exc):
            fields = _backends.oom_fields(exc)
            state.writer.emit("oom", phase=call.phase, **fields)
            end(state, call, "oom")
            state.problems.note(f"out of memory in fit() call {call.phase}: {fields['message'][:300]}")
        else:
            frames = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            state.writer.emit("error", phase=call.phase, exception=type(exc).__name__, message=str(exc)[:2000],
                              traceback=frames[-4000:])
            end(state, call, "error")
    except Exception as own:
        state.problems.report("reporting the end of fit()", own, "the exception goes on unchanged")
