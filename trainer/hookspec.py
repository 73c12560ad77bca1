"""The contract between memtui and the hook inside a user's own Keras script.

memtui runs the user's command (`python train.py ...`) unmodified, with the
environment from `launch_env(settings, os.environ)` added to theirs. That puts
`BOOT_DIR` first on PYTHONPATH, so Python's `site` imports the hook's
`sitecustomize.py` at start-up, and passes the settings as JSON in ONE
variable, `MEMTUI_HOOK` (`HookSettings.to_env()` / `HookSettings.from_env()`).
Without that variable the hook does nothing at all (apart from chaining to any
`sitecustomize` it shadows).

What the hook then writes, to RUN_DIR/events.jsonl in the protocol of
`trainer/protocol.py` (the same module, loaded by file path from the boot
folder's grand-parent, so the protocol is defined once):

- `run_start` per `fit()` call, with the required fields (`config` holds these
  settings, `dataset` says what `fit()` got) and, added: `phase` (1, 2, ... per
  `fit()` in the process), `model`, `optimizer`, `batch_size` (None when not
  known), `batch_control` ("arrays" | "rebatch" | "placeholder" | None: how
  memtui can set the batch of this input), `input` (the kind of `x`),
  `backend`, `dtype_policy`, `grad_accum` (as applied on the optimizer),
  `jit_compile` (as the model will run), `steps_in_epoch`, `backup_dir`,
  `notes` (remedies that could not be applied, in words).
- `step` (coalesced to at most 20 a second; `global_step` counts across all
  phases; `batch_size` is 0 and `examples_per_second` 0.0 when the batch is not
  known) with added `phase` and `metrics` (every number Keras logged);
  `memory` is TensorFlow's `{"GPU:0": {"current", "peak"}}` per GPU, or
  `{"cpu_rss", "cpu_rss_peak"}` on a CPU-only host.
- `epoch` (with validation metrics) with added `phase`.
- `oom` exactly as the built-in trainer (via `trainer/oom.py`), then
  `run_end` status "oom", then the process exits with ExitCode.OOM (3).
- `run_end` per phase: status "finished" | "stopped" (SIGINT) | "oom" |
  "error" (the user's exception, which then propagates unchanged), with added
  `phase` and `hook_errors` (messages of memtui's own failures, if any).
  Readers take the last `run_end` in the file, which is the last phase's.

At start-up (before the script runs) the hook writes RUN_DIR/hook.json
(`HELLO_FILE`: pid, python, argv) so memtui can tell "the hook ran, no fit()
yet" from "the hook never ran" (`python -E`/`-I`/`-S` ignore PYTHONPATH).

Stdlib only: the hook inside the user's Python loads this file by path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

ENV_VAR = "MEMTUI_HOOK"
BOOT_DIR = Path(__file__).resolve().parent / "scripthook" / "boot"
HELLO_FILE = "hook.json"
# The hook's injection points a test can make fail (HookSettings.fault).
FAULTS = ("fit", "compile", "callback", "backup", "accumulate", "policy", "jit", "batch", "batch-start", "cap",
          "signal", "loop")
PLACEHOLDER = "{batch_size}"


@dataclass(frozen=True)
class HookSettings:
    """What memtui asks of the hook; every remedy is off by default.

    `batch_placeholder` says memtui already filled `{batch_size}` in the
    command (the hook then reports the batch as "placeholder" and leaves
    `fit()`'s batch alone). `jit_compile` is False (XLA off) or None (the
    script's choice). `backup_dir`: the hook adds a BackupAndRestore in
    `backup_dir/phase-N` to each fit() (kept on a SIGINT stop, so a relaunch
    continues from the last finished epoch). `gpu_memory_fraction` is for the
    JAX backend only. `fault` is for memtui's own tests only: a comma-separated
    list of the hook's injection points to make fail, to prove the script goes
    on as written (`FAULTS`).
    """

    run_dir: str
    batch_size: int | None = None
    batch_placeholder: bool = False
    grad_accum: int = 1
    mixed_precision: bool = False
    memory_growth: bool = False
    gpu_memory_limit: int | None = None
    jit_compile: bool | None = None
    backup_dir: str | None = None
    host_memory_limit: int | None = None
    max_steps: int | None = None
    max_epochs: int | None = None
    gpu_memory_fraction: float | None = None
    fault: str | None = None

    def __post_init__(self) -> None:
        for name in ("batch_size", "gpu_memory_limit", "host_memory_limit", "max_steps", "max_epochs"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, not {value!r}")
        if isinstance(self.grad_accum, bool) or not isinstance(self.grad_accum, int) or self.grad_accum < 1:
            raise ValueError(f"grad_accum must be an integer >= 1, not {self.grad_accum!r}")
        if self.jit_compile not in (False, None):
            raise ValueError("jit_compile can only be turned off (False) or left to the script (None)")
        fraction = self.gpu_memory_fraction
        if fraction is not None and not (isinstance(fraction, float) and 0.0 < fraction <= 1.0):
            raise ValueError(f"gpu_memory_fraction must be a float in (0, 1], not {fraction!r}")

    @property
    def events_path(self) -> Path:
        return Path(self.run_dir) / "events.jsonl"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_env(self) -> dict[str, str]:
        return {ENV_VAR: json.dumps(self.to_dict(), separators=(",", ":"))}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HookSettings | None:
        """The settings in `env` (default os.environ), or None when the variable
        is absent. A value that is not valid settings raises ValueError."""
        raw = (os.environ if env is None else env).get(ENV_VAR)
        if raw is None:
            return None
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"{ENV_VAR} must hold a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{ENV_VAR}: unknown settings {', '.join(unknown)}")
        return cls(**data)


def launch_env(settings: HookSettings, base: Mapping[str, str]) -> dict[str, str]:
    """The variables a launcher adds to `base` (the user's environment) to run
    their command under the hook. Only the returned variables change."""
    env: dict[str, str] = dict(settings.to_env())
    old = base.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(BOOT_DIR) + (os.pathsep + old if old else "")
    if settings.memory_growth:
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"  # only lower-case true is accepted
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # the JAX backend's growth
    if settings.gpu_memory_fraction is not None:
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{settings.gpu_memory_fraction:.2f}"
    if settings.host_memory_limit is not None and "TF_ENABLE_ONEDNN_OPTS" not in base:
        # oneDNN's CPU kernels crash (SIGSEGV) on a denied allocation; TF's own raise.
        env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    if settings.max_steps is not None:
        env["KERAS_MAX_STEPS_PER_EPOCH"] = str(settings.max_steps)
    if settings.max_epochs is not None:
        env["KERAS_MAX_EPOCHS"] = str(settings.max_epochs)
    return env


def fill_batch_placeholder(argv: Sequence[str], batch_size: int) -> tuple[list[str], bool]:
    """`argv` with every `{batch_size}` replaced by the number (also inside an
    argument such as `--batch={batch_size}`), and whether there was one."""
    found = any(PLACEHOLDER in arg for arg in argv)
    return [arg.replace(PLACEHOLDER, str(batch_size)) for arg in argv], found
