"""The run configuration shared by the trainer and the monitor.

This module is the contract between the two processes, so it imports nothing
heavy: no TensorFlow, no Textual. Every bad value is reported as one
`ConfigError` line that names the option, the value and what is allowed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NoReturn

from trainer.command import CommandError, ScriptCommand
from trainer.distributed import MAX_WORKERS, WorkersError, per_worker_batch
from trainer.hosts import hosts_problem, worker_count

# The seed's two CNNs: name -> (conv filters of the three blocks, dense units).
# Here, in the contract, because the trainer builds them and memtui's pre-flight
# estimate works out their shapes without TensorFlow.
ARCHITECTURES: dict[str, tuple[tuple[int, int, int], int]] = {
    "small": ((16, 32, 64), 128),
    "large": ((32, 64, 128), 256),
}
MODELS = tuple(ARCHITECTURES)
DEMO_CPU_IMAGE_SIZE = 64
STRATEGIES = ("default", "mirrored")
RUN_KINDS = ("builtin", "script")  # what runs: the built-in trainer, or the user's own command (tui/kinds/)
BACKENDS = ("tensorflow", "jax")  # Keras 3 backends the built-in trainer runs on (jax: pip install 'memtui[jax]')
GRAD_ACCUM_MAX = 4096  # the most micro-batches per update --grad-accum allows


class ConfigError(ValueError):
    """A bad configuration value, worded for the person who typed it."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides how one training attempt uses memory.

    Defaults follow the seed: 256x256 images, batch 32, the smaller CNN.
    `data=None` means the built-in demo.
    """

    data: str | None = None
    image_size: int = 256
    batch_size: int = 32
    epochs: int = 5
    steps_per_epoch: int | None = None
    model: str = "small"
    memory_growth: bool = False
    gpu_memory_limit: int | None = None
    mixed_precision: bool = False
    grad_accum: int = 1
    host_memory_limit: int | None = None
    strategy: str = "default"
    learning_rate: float = 1e-3
    validation_split: float = 0.0
    seed: int = 0
    shuffle_buffer: int = 1024
    prefetch: int = -1
    cpu_devices: int = 1
    backup_dir: str | None = None
    backend: str = "tensorflow"
    script: ScriptCommand | None = None  # the user's own command instead of the built-in trainer (trainer/command.py)
    workers: int = 1  # training processes on this host, one group (trainer/distributed.py); batch_size stays global
    kind: str = ""  # one of RUN_KINDS; left empty, it follows `script` (a command: "script")
    hosts: str | None = None  # --hosts a,b:2: the group's workers over SSH, one per rank (trainer/hosts.py)

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", "script" if self.script is not None else "builtin")
        if self.workers == 1 and (count := worker_count(self.hosts)):
            object.__setattr__(self, "workers", count)  # --hosts says how many; --workers, given, must agree
        validate(self)

    @property
    def worker_batch(self) -> int:
        """Examples each worker feeds per step (the global batch split over the workers)."""
        return self.batch_size // self.workers

    @property
    def effective_batch(self) -> int:
        """Examples per applied weight update (batch x accumulation)."""
        return self.batch_size * self.grad_accum

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with `changes` applied and validated (a new `script` brings its kind with it)."""
        if "script" in changes and "kind" not in changes:
            changes["kind"] = ""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "config") -> RunConfig:
        """Build from a JSON/TOML mapping, naming unknown keys and wrong types."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(
                    f"{source}: unknown key {key!r}; known keys: {', '.join(sorted(known))}"
                )
            kwargs[name] = _coerce(name, value, source)
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str, source: str = "config.json") -> RunConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a JSON object of settings")
        return cls.from_mapping(data, source)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
        return cls.from_json(text, str(path))

    def save(self, path: str | Path) -> None:
        """Write-then-rename: the workers of a group read config.json while rank 0
        saves it again (a reader of a half-written file refused it as bad JSON)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(self.to_json() + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def training_image_size(cfg: RunConfig, has_gpu: bool) -> int:
    """The image size the trainer will really use. The built-in demo left at the
    default size trains at 64 px on a CPU-only host so it stays quick; both
    processes need this rule (the trainer to apply it, memtui to estimate)."""
    if cfg.data is None and not has_gpu and cfg.image_size == RunConfig().image_size:
        return DEMO_CPU_IMAGE_SIZE
    return cfg.image_size


# --- validation -------------------------------------------------------------

_INT_RANGES: dict[str, tuple[int, int]] = {
    "image_size": (8, 4096),
    "batch_size": (1, 1 << 20),
    "epochs": (1, 100_000),
    "steps_per_epoch": (1, 10_000_000),
    "gpu_memory_limit": (16, 10_000_000),
    "grad_accum": (1, GRAD_ACCUM_MAX),
    "host_memory_limit": (64, 100_000_000),
    "seed": (0, 2**31 - 1),
    "shuffle_buffer": (0, 10_000_000),
    "prefetch": (-1, 1024),
    "cpu_devices": (1, 64),
    "workers": (1, MAX_WORKERS),
}
_FLOAT_RANGES: dict[str, tuple[float, float, str]] = {
    "learning_rate": (0.0, 10.0, "a number above 0 and at most 10"),
    "validation_split": (0.0, 0.9, "a number from 0 to 0.9"),
}
_CHOICES: dict[str, tuple[str, ...]] = {"model": MODELS, "strategy": STRATEGIES, "backend": BACKENDS}


def flag(name: str) -> str:
    """The command-line spelling of a field: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


def validate(cfg: RunConfig) -> None:
    """Raise ConfigError naming the first bad field, its value and the allowed range."""
    for name, (lo, hi) in _INT_RANGES.items():
        value = getattr(cfg, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{flag(name)}: {value!r} is not a whole number; use {lo} to {hi}")
        if not lo <= value <= hi:
            raise ConfigError(f"{flag(name)}: {value} is out of range; use a whole number from {lo} to {hi}")
    for name, (lo, hi, words) in _FLOAT_RANGES.items():
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{flag(name)}: {value!r} is not a number; use {words}")
        low_ok = value > lo if name == "learning_rate" else value >= lo
        if not (low_ok and value <= hi):
            raise ConfigError(f"{flag(name)}: {value} is out of range; use {words}")
    for name, choices in _CHOICES.items():
        value = getattr(cfg, name)
        if value not in choices:
            raise ConfigError(f"{flag(name)}: {value!r} is not one of {', '.join(choices)}")
    for name in ("memory_growth", "mixed_precision"):
        if not isinstance(getattr(cfg, name), bool):
            raise ConfigError(f"{flag(name)}: {getattr(cfg, name)!r} must be true or false")
    for name in ("data", "backup_dir"):
        value = getattr(cfg, name)
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{flag(name)}: {value!r} must be a folder path")
    if cfg.script is not None and not isinstance(cfg.script, ScriptCommand):
        raise ConfigError(f"script: {cfg.script!r} is not a command")
    if cfg.kind not in RUN_KINDS:
        raise ConfigError(f"kind: {cfg.kind!r} is not one of {', '.join(RUN_KINDS)}")
    if (cfg.kind == "script") != (cfg.script is not None):
        raise ConfigError("kind: a script run needs its command (script), and only a script run has one")
    if cfg.memory_growth and cfg.gpu_memory_limit is not None:
        raise ConfigError(
            "--memory-growth and --gpu-memory-limit cannot be combined on one GPU; choose one"
        )
    if cfg.strategy == "mirrored" and cfg.grad_accum > 1:
        # Keras applies accumulated gradients per replica only for single-device
        # training; refusing is clearer than silently different maths.
        raise ConfigError("--grad-accum above 1 is not supported with --strategy mirrored; choose one")
    if cfg.strategy == "mirrored" and cfg.backend != "tensorflow":
        raise ConfigError(f"--strategy mirrored is TensorFlow's; it cannot run with --backend {cfg.backend}")
    if cfg.hosts is not None and (problem := hosts_problem(cfg.hosts, cfg.workers)):
        raise ConfigError(problem)
    if cfg.workers > 1:
        _validate_workers(cfg)


def _validate_workers(cfg: RunConfig) -> None:
    # A script's backend is its own KERAS_BACKEND: the hook refuses one that is not JAX, in one line.
    if cfg.script is None and cfg.backend == "tensorflow":
        # Measured with Keras 3.15 / TF 2.21: MultiWorkerMirroredStrategy fails inside fit
        # ("PerReplica ... unsupported type to a Tensor", keras-team/keras#20585).
        asked = f"--hosts {cfg.hosts}" if cfg.hosts else f"--workers {cfg.workers}"
        raise ConfigError(f"{asked} needs --backend jax: Keras 3.15's fit fails under TensorFlow's "
                          "MultiWorkerMirroredStrategy (keras-team/keras#20585); add --backend jax")
    try:
        per_worker_batch(cfg.batch_size, cfg.workers)
    except WorkersError as exc:
        raise ConfigError(str(exc)) from None


def _coerce(name: str, value: Any, source: str) -> Any:
    """TOML/JSON values to field types; ints are accepted where floats are expected."""
    if name == "script" and value is not None:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: script = {value!r} must be a table with argv and workdir")
        try:
            return ScriptCommand.from_mapping(value, source)
        except CommandError as exc:
            raise ConfigError(str(exc)) from None
    if name in _FLOAT_RANGES and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if name in _INT_RANGES and isinstance(value, float) and value.is_integer():
        # JSON writers sometimes emit 32.0; a fractional batch is still an error.
        return int(value)
    if name in _INT_RANGES and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{source}: {name} = {value!r} is not a whole number")
    if name in ("memory_growth", "mixed_precision") and not isinstance(value, bool):
        raise ConfigError(f"{source}: {name} = {value!r} must be true or false")
    if name in _CHOICES and not isinstance(value, str):
        raise ConfigError(f"{source}: {name} = {value!r} must be one of {', '.join(_CHOICES[name])}")
    return value


# --- the shared command line ------------------------------------------------


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


_HELP: dict[str, tuple[str, str]] = {
    # field: (help text, metavar)
    "data": ("folder with one subfolder of images per class (default: the built-in demo), e.g. --data ~/photos", "DIR"),
    "image_size": ("images are resized to N x N pixels (default 256), e.g. --image-size 64", "N"),
    "batch_size": ("examples per step (default 32); the first thing to lower on OOM, e.g. --batch-size 16", "N"),
    "epochs": ("passes over the data (default 5), e.g. --epochs 10", "N"),
    "steps_per_epoch": ("stop each epoch after N steps (default: the whole data), e.g. --steps-per-epoch 50", "N"),
    "model": ("the seed's CNN: small (16/32/64 filters) or large (32/64/128), e.g. --model large", "small|large"),
    "memory_growth": ("take GPU memory as needed instead of all at start (on JAX: no preallocation)", None),
    "gpu_memory_limit": ("cap the backend at MB of memory per GPU (on JAX: as a memory fraction of the GPU), "
                         "e.g. --gpu-memory-limit 4096", "MB"),
    "mixed_precision": ("compute in float16 (mixed_float16), about half the activation memory", None),
    "grad_accum": ("accumulate gradients over N steps: effective batch = batch x N, e.g. --grad-accum 4", "N"),
    "host_memory_limit": ("address-space limit for the trainer in MB, e.g. --host-memory-limit 8192", "MB"),
    "strategy": ("distribution strategy: default or mirrored (all GPUs), e.g. --strategy mirrored", "default|mirrored"),
    "learning_rate": ("Adam learning rate (default 0.001), e.g. --learning-rate 3e-4", "X"),
    "validation_split": ("fraction of the data held out for validation (default 0), e.g. --validation-split 0.2", "X"),
    "seed": ("random seed for shuffling and weights (default 0), e.g. --seed 42", "N"),
    "shuffle_buffer": ("examples held in the shuffle buffer (default 1024; lower saves host memory)", "N"),
    "prefetch": ("batches prefetched (default -1 = AUTOTUNE; lower saves host memory)", "N"),
    "cpu_devices": ("split the CPU into N logical devices (for testing --strategy mirrored)", "N"),
    "backup_dir": ("where resume backups live (default: inside the run folder)", "DIR"),
    "workers": ("training processes on this host as one JAX group (needs --backend jax); --batch-size stays the "
                "global batch, split evenly, e.g. --workers 2", "N"),
    "hosts": ("the group's workers on these machines over SSH, host:N for N on one (needs --backend jax); "
              "the same folder and memtui on each, e.g. --hosts gpu1,gpu2:2", "H,H:N"),
    "backend": ("Keras 3 backend: tensorflow (default) or jax (needs pip install 'memtui[jax]'), e.g. --backend jax",
                "tensorflow|jax"),
}


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per RunConfig field. Every default is None so that a flag
    given on the command line can be told apart from one left out, which lets
    flags override a config file."""
    types = {f.name: f.type for f in fields(RunConfig)}
    group = parser.add_argument_group("run options")
    for name, (text, metavar) in _HELP.items():
        ftype = str(types[name])
        if "bool" in ftype:
            group.add_argument(flag(name), dest=name, action=argparse.BooleanOptionalAction, default=None, help=text)
            continue
        kind: Any = str
        if "int" in ftype:
            kind = int
        elif "float" in ftype:
            kind = float
        kwargs: dict[str, Any] = {"dest": name, "default": None, "help": text, "metavar": metavar, "type": kind}
        if name in _CHOICES:
            kwargs["choices"] = _CHOICES[name]
            kwargs.pop("metavar")
        group.add_argument(flag(name), **kwargs)


def config_from_args(ns: argparse.Namespace, base: RunConfig | None = None) -> RunConfig:
    """Overlay the flags that were given on `base` (default: the defaults)."""
    base = base or RunConfig()
    changes = {name: getattr(ns, name) for name in _HELP if getattr(ns, name, None) is not None}
    return base.replace(**changes)
