"""GPU readings through NVML (`pynvml` from nvidia-ml-py), never raising.

NVML is initialised once and device handles are kept: re-fetching them every
tick is what made one peer tool burn most of a core. Every query has a default,
so a driver quirk on one device or one field never costs the whole reading.
Problems that stop NVML altogether become a status word and a sentence with
the fix, because the person reading them is usually on a remote shell.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

# NVML return codes (nvml.h); compared by value so the real and fake modules agree.
ERROR_NOT_SUPPORTED = 3
ERROR_NO_PERMISSION = 4
ERROR_DRIVER_NOT_LOADED = 9
ERROR_LIBRARY_NOT_FOUND = 12
ERROR_FUNCTION_NOT_FOUND = 13
ERROR_GPU_IS_LOST = 15
ERROR_RESET_REQUIRED = 16
ERROR_LIB_RM_VERSION_MISMATCH = 18
ERROR_ARGUMENT_VERSION_MISMATCH = 25

# Codes meaning "this call does not exist here": try the older call instead.
_OLDER_CALL_CODES = frozenset({ERROR_FUNCTION_NOT_FOUND, ERROR_NOT_SUPPORTED, ERROR_ARGUMENT_VERSION_MISMATCH})
_LOST_CODES = frozenset({ERROR_GPU_IS_LOST, ERROR_RESET_REQUIRED})

# Newest first. In nvidia-ml-py the unversioned name is v3 behind a version
# check; in older releases it is v1, so it doubles as the v1 fallback.
_PROCESS_CALLS = (
    "nvmlDeviceGetComputeRunningProcesses_v3",
    "nvmlDeviceGetComputeRunningProcesses_v2",
    "nvmlDeviceGetComputeRunningProcesses",
)

INIT_PROBLEMS: dict[int, tuple[str, str]] = {
    ERROR_LIBRARY_NOT_FOUND: (
        "no-driver",
        "no NVIDIA driver on this host (libnvidia-ml.so.1 not found): showing host memory and the trainer's RSS; "
        "on a GPU machine, install the NVIDIA driver and check `nvidia-smi`",
    ),
    ERROR_DRIVER_NOT_LOADED: (
        "driver-not-loaded",
        "the NVIDIA driver is installed but not loaded: run `sudo modprobe nvidia` (or reboot), "
        "then check `nvidia-smi`",
    ),
    ERROR_LIB_RM_VERSION_MISMATCH: (
        "version-mismatch",
        "NVIDIA driver/library version mismatch: reboot or reload the nvidia kernel module "
        "after a driver upgrade, then check `nvidia-smi`",
    ),
    ERROR_NO_PERMISSION: (
        "no-permission",
        "no permission to use the NVIDIA devices (/dev/nvidia*): add your user to the group that owns them "
        "(often `video`) or ask the machine's administrator",
    ),
}


@dataclass(frozen=True)
class DeviceReading:
    """One device as NVML reported it, before attribution to runs."""

    index: int
    name: str
    total_bytes: int = 0
    used_bytes: int = 0
    free_bytes: int = 0
    reserved_bytes: int = 0  # 0 when only the v1 memory call works (then it is counted in used)
    utilization_percent: int | None = None
    processes: tuple[tuple[int, int | None], ...] | None = None  # (pid, bytes); None: the call is unavailable
    lost: bool = False
    problem: str | None = None


def _code(exc: BaseException) -> int | None:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


class NvmlReader:
    """Owns the NVML session. Not thread-safe: one caller at a time (the sampler's lock)."""

    def __init__(self, module: ModuleType | None = None) -> None:
        self._module = module
        self._opened = False
        self.status = "ok"
        self.message: str | None = None
        self._handles: list[Any] = []
        self._names: list[str] = []
        self._lost: set[int] = set()
        self._memory_v2 = True
        self._process_calls: list[str] = list(_PROCESS_CALLS)

    # --- session -----------------------------------------------------------
    def open(self) -> None:
        """Initialise NVML once; on failure set `status`/`message` instead of raising."""
        if self._opened:
            return
        self._opened = True
        nv = self._module
        if nv is None:
            try:
                nv = importlib.import_module("pynvml")
            except ImportError:
                self._fail("error", "the nvidia-ml-py package is missing: `pip install nvidia-ml-py`")
                return
            self._module = nv
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            status, message = INIT_PROBLEMS.get(
                _code(exc) or -1, ("error", f"NVML did not start ({exc}): check `nvidia-smi`")
            )
            self._fail(status, message)
            return
        try:
            count = nv.nvmlDeviceGetCount()
        except nv.NVMLError as exc:
            self._fail("error", f"NVML could not count the GPUs ({exc}): check `nvidia-smi`")
            return
        for index in range(count):
            handle: Any = None
            name = f"GPU {index}"
            try:
                handle = nv.nvmlDeviceGetHandleByIndex(index)
                name = _text(nv.nvmlDeviceGetName(handle))
            except nv.NVMLError as exc:
                if _code(exc) in _LOST_CODES:
                    self._lost.add(index)
            self._handles.append(handle)
            self._names.append(name)

    def _fail(self, status: str, message: str) -> None:
        self.status, self.message = status, message
        self._handles, self._names = [], []

    def close(self) -> None:
        if self._opened and self.status == "ok" and self._module is not None:
            try:
                self._module.nvmlShutdown()
            except self._module.NVMLError:
                pass  # shutting down a session that is already gone is not news
        self._opened = False
        self._handles, self._names, self._lost = [], [], set()

    # --- readings ------------------------------------------------------------
    def read(self) -> tuple[DeviceReading, ...]:
        self.open()
        return tuple(self._read_device(i) for i in range(len(self._handles)))

    def _read_device(self, index: int) -> DeviceReading:
        name = self._names[index]
        handle = self._handles[index]
        if index in self._lost:
            return _lost(index, name)
        if handle is None:
            return DeviceReading(index, name, problem=f"GPU {index}: NVML gave no handle for it; check `nvidia-smi`")
        nv = self._module
        assert nv is not None
        try:
            total, used, free, reserved = self._memory(handle)
            utilization = self._utilization(handle)
            processes = self._processes(handle)
        except nv.NVMLError as exc:
            if _code(exc) in _LOST_CODES:
                self._lost.add(index)
                return _lost(index, name)
            problem = f"GPU {index}: NVML could not read it ({exc}); check `nvidia-smi`"
            return DeviceReading(index, name, problem=problem)
        return DeviceReading(index, name, total, used, free, reserved, utilization, processes)

    def _memory(self, handle: Any) -> tuple[int, int, int, int]:
        """Total, used, free, reserved. v2 keeps driver-reserved memory out of `used`, like nvidia-smi."""
        nv = self._module
        assert nv is not None
        version = getattr(nv, "nvmlMemory_v2", None)
        if self._memory_v2 and version is not None:
            try:
                m = nv.nvmlDeviceGetMemoryInfo(handle, version=version)
                return int(m.total), int(m.used), int(m.free), int(m.reserved)
            except nv.NVMLError as exc:
                if _code(exc) not in _OLDER_CALL_CODES:
                    raise
                self._memory_v2 = False  # an old driver: ask v1 from now on
        m = nv.nvmlDeviceGetMemoryInfo(handle)
        return int(m.total), int(m.used), int(m.free), 0

    def _utilization(self, handle: Any) -> int | None:
        nv = self._module
        assert nv is not None
        try:
            return int(nv.nvmlDeviceGetUtilizationRates(handle).gpu)
        except nv.NVMLError as exc:
            if _code(exc) in _LOST_CODES:
                raise
            return None

    def _processes(self, handle: Any) -> tuple[tuple[int, int | None], ...] | None:
        nv = self._module
        assert nv is not None
        mismatch = getattr(nv, "NVMLLibraryMismatchError", None)
        while self._process_calls:
            call = getattr(nv, self._process_calls[0], None)
            if call is None:
                self._process_calls.pop(0)
                continue
            try:
                found = call(handle)
            except nv.NVMLError as exc:
                code = _code(exc)
                if code in _LOST_CODES:
                    raise
                if code == ERROR_FUNCTION_NOT_FOUND:
                    self._process_calls.pop(0)  # the driver is older than this call
                    continue
                return None  # not supported on this device (MIG, WDDM): no list, not an error
            except Exception as exc:
                if mismatch is not None and isinstance(exc, mismatch):
                    self._process_calls.pop(0)
                    continue
                raise
            return tuple((int(p.pid), _memory_or_none(p.usedGpuMemory)) for p in found)
        return None


def _lost(index: int, name: str) -> DeviceReading:
    return DeviceReading(
        index, name, lost=True,
        problem=f"GPU {index} is lost (fell off the bus): its memory cannot be read until the machine is rebooted; "
        "the other GPUs are still watched",
    )


def _memory_or_none(value: Any) -> int | None:
    # NVML uses all-ones for "not available"; nvidia-ml-py maps it to None, older releases do not.
    if value is None or value >= 2**64 - 1:
        return None
    return int(value)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
