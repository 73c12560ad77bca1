"""A stand-in for the `pynvml` module (nvidia-ml-py) on machines without a GPU.

It fakes the hardware only: the subset of calls memtui uses, with the real
error classes and codes. The machine it describes is a JSON scenario in the
file named by $MEMTUI_FAKE_NVML, re-read whenever the file changes, so a test
can make a GPU get lost mid-run even inside a separate memtui process.

Scenario keys (all optional):
  init_error: "library-not-found" | "driver-not-loaded" | "version-mismatch" | "no-permission"
  memory_v2: false          -> the v2 memory call is missing (an old driver)
  processes_api: "v3" | "v2" | "v1" | "missing" | "not-supported"
  gpus: [{name, total, used, reserved, util, lost, processes: [{pid, used}]}]
    `used` is what the v2 call reports; v1 adds `reserved` to it, as real drivers do.
    A process `used` of null means NVML cannot tell (WDDM, some MIG setups).
"""

from __future__ import annotations

import json
import os
import string
import sys
from types import SimpleNamespace
from typing import Any

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_ALREADY_INITIALIZED = 5
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_RESET_REQUIRED = 16
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25
NVML_ERROR_UNKNOWN = 999

nvmlMemory_v2 = 0x02000028

_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_LIB_RM_VERSION_MISMATCH: "RM has detected an NVML/RM version mismatch.",
}


class NVMLLibraryMismatchError(Exception):
    pass


class NVMLError(Exception):
    """Like the real one: NVMLError(code) builds the subclass named after the code."""

    _valClassMapping: dict[int, type] = {}  # noqa: RUF012 - mirrors the real module's name

    def __new__(cls, value: int) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._valClassMapping.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, value: int | None = None) -> None:
        super().__init__()

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML Error with code {self.value}")


def _make_error_classes() -> None:
    module = sys.modules[__name__]
    for const in [name for name in dir(module) if name.startswith("NVML_ERROR_")]:
        class_name = "NVMLError_" + string.capwords(const.replace("NVML_ERROR_", ""), "_").replace("_", "")
        value = getattr(module, const)

        def new(cls: type, *args: Any, _value: int = value) -> NVMLError:
            return NVMLError.__new__(cls, _value)

        error_class = type(class_name, (NVMLError,), {"__new__": new})
        error_class.__module__ = __name__
        setattr(module, class_name, error_class)
        NVMLError._valClassMapping[value] = error_class


_make_error_classes()

_INIT_ERRORS = {
    "library-not-found": NVML_ERROR_LIBRARY_NOT_FOUND,
    "driver-not-loaded": NVML_ERROR_DRIVER_NOT_LOADED,
    "version-mismatch": NVML_ERROR_LIB_RM_VERSION_MISMATCH,
    "no-permission": NVML_ERROR_NO_PERMISSION,
}
_API_RANK = {"v3": 3, "v2": 2, "v1": 1, "missing": 0, "not-supported": -1}

_cache: dict[str, Any] = {"key": None, "scenario": {}}
_initialised = 0


def _scenario() -> dict[str, Any]:
    path = os.environ.get("MEMTUI_FAKE_NVML")
    if not path:
        return {"init_error": "library-not-found"}
    try:
        st = os.stat(path)
    except OSError:
        return {"init_error": "library-not-found"}
    key = (path, st.st_mtime_ns, st.st_size)
    if _cache["key"] != key:
        with open(path, encoding="utf-8") as handle:
            _cache["scenario"] = json.load(handle)
        _cache["key"] = key
    return _cache["scenario"]


def _gpu(handle: SimpleNamespace) -> dict[str, Any]:
    if not _initialised:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)
    gpus = _scenario().get("gpus", [])
    if handle.index >= len(gpus):
        raise NVMLError(NVML_ERROR_GPU_IS_LOST)
    gpu = gpus[handle.index]
    if gpu.get("lost"):
        raise NVMLError(NVML_ERROR_GPU_IS_LOST)
    return gpu


def nvmlInit() -> None:
    global _initialised
    error = _scenario().get("init_error")
    if error:
        raise NVMLError(_INIT_ERRORS.get(error, NVML_ERROR_UNKNOWN))
    _initialised += 1


def nvmlInitWithFlags(flags: int) -> None:
    nvmlInit()


def nvmlShutdown() -> None:
    global _initialised
    if not _initialised:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)
    _initialised -= 1


def nvmlSystemGetDriverVersion() -> str:
    return str(_scenario().get("driver", "550.54.15"))


def nvmlDeviceGetCount() -> int:
    if not _initialised:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)
    return len(_scenario().get("gpus", []))


def nvmlDeviceGetHandleByIndex(index: int) -> SimpleNamespace:
    if not _initialised:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)
    if not 0 <= index < len(_scenario().get("gpus", [])):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return SimpleNamespace(index=index)


def nvmlDeviceGetName(handle: SimpleNamespace) -> str:
    return str(_gpu(handle).get("name", "NVIDIA Fake GPU"))


def nvmlDeviceGetMemoryInfo(handle: SimpleNamespace, version: int | None = None) -> SimpleNamespace:
    gpu = _gpu(handle)
    total, used, reserved = int(gpu.get("total", 0)), int(gpu.get("used", 0)), int(gpu.get("reserved", 0))
    free = max(0, total - used - reserved)
    if not version:
        return SimpleNamespace(total=total, free=free, used=used + reserved)
    if not _scenario().get("memory_v2", True):
        raise NVMLError(NVML_ERROR_FUNCTION_NOT_FOUND)
    return SimpleNamespace(version=version, total=total, reserved=reserved, free=free, used=used)


def nvmlDeviceGetUtilizationRates(handle: SimpleNamespace) -> SimpleNamespace:
    util = _gpu(handle).get("util")
    if util is None:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return SimpleNamespace(gpu=int(util), memory=0)


def _processes(handle: SimpleNamespace, rank: int) -> list[SimpleNamespace]:
    gpu = _gpu(handle)
    api = _API_RANK.get(str(_scenario().get("processes_api", "v3")), 3)
    if api == -1:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    if api < rank:
        raise NVMLError(NVML_ERROR_FUNCTION_NOT_FOUND)
    return [
        SimpleNamespace(pid=int(p["pid"]), usedGpuMemory=p.get("used"), gpuInstanceId=0xFFFFFFFF,
                        computeInstanceId=0xFFFFFFFF)
        for p in gpu.get("processes", [])
    ]


def nvmlDeviceGetComputeRunningProcesses_v3(handle: SimpleNamespace) -> list[SimpleNamespace]:
    return _processes(handle, 3)


def nvmlDeviceGetComputeRunningProcesses_v2(handle: SimpleNamespace) -> list[SimpleNamespace]:
    return _processes(handle, 2)


def nvmlDeviceGetComputeRunningProcesses(handle: SimpleNamespace) -> list[SimpleNamespace]:
    """The unversioned call, as old nvidia-ml-py releases had it (v1)."""
    return _processes(handle, 1)
