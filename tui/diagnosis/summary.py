"""The one plain sentence of each verdict."""

from __future__ import annotations

from typing import Any

from trainer.protocol import Step
from tui.common.backendwords import words_for
from tui.common.units import format_bytes
from tui.common.verdict import ASYNC_OOM, DEVICE_OOM, HOST_OOM, MASKED_OOM, OTHER_PROCESSES, PROBABLE_OOM, XLA_OOM


def when(last_step: Step | None, started: bool | None) -> str:
    """' during step 3 of epoch 1', ' at start-up, before the first step', or ''.
    Step events count steps and epochs from 1 (trainer/protocol.py); the
    running step is the one after the last recorded."""
    if last_step is not None:
        return f" during step {last_step.step + 1} of epoch {last_step.epoch}"
    if started is False:
        return " at start-up, before the first step"
    return ""


def _allocating(details: dict[str, Any]) -> str:
    size = details.get("requested_bytes")
    shape = details.get("shape")
    if isinstance(size, int) and shape:
        return f" allocating a {format_bytes(size, spaced=True)} tensor of shape {shape}"
    if isinstance(size, int):
        return f" allocating {format_bytes(size, spaced=True)}"
    if shape:
        return f" allocating a tensor of shape {shape}"
    return ""


def oom_sentence(kind: str, details: dict[str, Any], moment: str, limit_mb: int | None) -> str:
    device = details.get("device")
    on = f" on {device}" if device and kind != HOST_OOM else ""
    what = _allocating(details)
    if kind == DEVICE_OOM:
        by = words_for(details.get("backend")).name
        lead = f"Training ({by}) ran" if by != "TensorFlow" else "Training ran"
        return f"{lead} out of GPU memory{on}{what}{moment}."
    if kind == XLA_OOM:
        by = words_for(details.get("backend")).xla_name
        if details.get("what") == "cubin":
            return (f"XLA could not load a compiled GPU kernel{moment}: CUDA reported the GPU out of memory "
                    "(CUDA_ERROR_OUT_OF_MEMORY).")
        if device == "TPU":
            return f"{by} ran out of TPU memory{what}{moment}."
        return f"{by} ran out of GPU memory{on}{what}{moment}."
    if kind == OTHER_PROCESSES:
        return (f"CUDA could not even create its context on {device or 'the GPU'}{moment}: the GPU had no free "
                "memory, most likely because another process holds it.")
    if kind == ASYNC_OOM:
        return f"The CUDA async allocator (cuda_malloc_async) ran out of GPU memory{on}{what}{moment}."
    if kind == MASKED_OOM:
        return (f"Copying data to the GPU failed ('Dst tensor is not initialized'){moment}: "
                "an out-of-memory error in disguise, usually a large in-memory array sent at once.")
    if kind == PROBABLE_OOM:
        return (f"cuDNN or cuBLAS could not get memory for its workspace{moment}: "
                "most likely the GPU was out of memory.")
    under = f" under the --host-memory-limit of {limit_mb} MB" if limit_mb else ""
    return f"Training ran out of host memory (RAM){under}{what}{moment}."


def capital(words: str) -> str:
    """`words` at the start of a sentence: "the trainer" -> "The trainer"."""
    return words[:1].upper() + words[1:]


def oom_killer_sentence(peak_rss: int | None, moment: str, who: str) -> str:
    """`who`: what ran, as its kind names it ("the trainer", "your script"), here and below."""
    held = f" while it held {format_bytes(peak_rss, spaced=True)} of RAM" if peak_rss else ""
    return f"The Linux out-of-memory killer killed {who}{held}{moment}: the host ran out of memory."


def shuffle_killed_sentence(signal_text: str, moment: str, who: str) -> str:
    return (f"{capital(who)} was killed with {signal_text}{moment} while tf.data filled its shuffle buffer in host "
            "memory: most likely the Linux out-of-memory killer.")


def library_sentence(mismatch: str | None, moment: str) -> str:
    named = f" ({mismatch})" if mismatch else ""
    return (f"cuDNN, cuBLAS or the CUDA driver failed to start{moment}{named}, with no sign of a full GPU: a "
            "library or driver problem, not an out-of-memory error.")


def host_abort_sentence(what: str, moment: str, limit_mb: int | None, who: str) -> str:
    under = f" under the --host-memory-limit of {limit_mb} MB" if limit_mb else ""
    if what == "bad-alloc":
        return f"{capital(who)} aborted with std::bad_alloc{moment}: a memory allocation failed{under}."
    if what == "thread":
        return (f"{capital(who)} could not start a thread and aborted{moment}: "
                f"its address space was used up{under}.")
    return f"{capital(who)} ran out of host memory (MemoryError){under}{moment}."


def killed_for_memory(peak: int, ceiling: int, words: str, signal_text: str, moment: str, who: str) -> str:
    return (f"{capital(who)} was killed with {signal_text}{moment} while using {format_bytes(peak, spaced=True)} of "
            f"{format_bytes(ceiling, spaced=True)} {words}: most likely the Linux out-of-memory killer.")


def others_sentence(device: str | None, held: int, total: int, holders: list[dict[str, Any]], base: str) -> str:
    who = ", ".join(
        f"pid {h['pid']} {h['name']}" + (f" {format_bytes(h['bytes'], spaced=True)}" if h.get("bytes") else "")
        for h in holders[:3]
    )
    by = f" ({who})" if who else ""
    return (f"Other processes already held {format_bytes(held, spaced=True)} of {format_bytes(total, spaced=True)} on "
            f"{device or 'the GPU'} when the run started{by}. {base}")
