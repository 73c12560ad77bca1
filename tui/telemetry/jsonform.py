"""Snapshots as plain JSON values (for `memtui status --json` and a run's meta.json baseline)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tui.telemetry.snapshot import GpuDevice, GpuProcess, HostMemory, Snapshot, TrainerUsage


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    data = dataclasses.asdict(snapshot)
    data["host"]["used_bytes"] = snapshot.host.used_bytes  # a property, so asdict leaves it out
    return data


def snapshot_from_dict(data: Mapping[str, Any]) -> Snapshot:
    """The inverse of `snapshot_to_dict`; raises ValueError on a malformed mapping."""
    try:
        gpus = tuple(
            GpuDevice(**{**g, "processes": tuple(GpuProcess(**p) for p in g.get("processes", ()))})
            for g in data["gpus"]
        )
        host_fields = {f.name for f in dataclasses.fields(HostMemory)}
        host = HostMemory(**{k: v for k, v in data["host"].items() if k in host_fields})
        trainer_data = data.get("trainer")
        trainer = None
        if trainer_data is not None:
            trainer = TrainerUsage(**{**trainer_data, "pids": tuple(trainer_data["pids"])})
        return Snapshot(
            t=float(data["t"]), gpus=gpus, host=host, trainer=trainer,
            gpu_status=str(data["gpu_status"]), gpu_message=data.get("gpu_message"),
            errors=tuple(data.get("errors", ())),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a telemetry snapshot: {exc}") from None
