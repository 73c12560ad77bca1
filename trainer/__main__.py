"""`python -m trainer --run-dir DIR [run options]`.

Order matters here. Before TensorFlow is imported: parse and validate the
config (a bad value is one line and exit 2, in well under a second), check the
data folder's layout, send fd 1 to fd 2 so nothing printed can reach the
event file, set the address-space limit, and install the stop handlers. Then
import and train. Every ending maps to one exit code:
0 finished, 2 bad config or data, 3 out of memory, 4 other error, 130 stopped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from trainer import backends
from trainer.config import ConfigError, OneLineParser, RunConfig, add_run_arguments, config_from_args
from trainer.distributed import NUM_PROCESSES, PROCESS_ID, events_name, this_worker
from trainer.eventlog import EventLog
from trainer.protocol import CONFIG_FILE, ExitCode
from trainer.signals import StopFlag, Stopped


def parse(argv: Sequence[str] | None) -> tuple[Path, RunConfig]:
    parser = OneLineParser(
        prog="python -m trainer",
        description="Train the seed's CNN on an image folder, writing protocol events to RUN_DIR/events.jsonl.",
    )
    parser.add_argument("--run-dir", required=True, metavar="DIR",
                        help="the run folder: config.json is read from it and events.jsonl written to it")
    add_run_arguments(parser)
    ns = parser.parse_args(argv)
    run_dir = Path(ns.run_dir).expanduser()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--run-dir: cannot create {run_dir} ({exc.strerror})") from None
    config_path = run_dir / CONFIG_FILE
    base = RunConfig.load(config_path) if config_path.exists() else RunConfig()
    cfg = config_from_args(ns, base)
    if cfg.data is not None:
        cfg = cfg.replace(data=str(Path(cfg.data).expanduser()))
    return run_dir, cfg


def _stdout_to_stderr() -> None:
    """Anything written to fd 1 (print, tf.print, C++ code) goes to the log."""
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def _fail(line: str, code: int, log: EventLog | None = None, exc: BaseException | None = None) -> int:
    print(f"trainer: {line}", file=sys.stderr, flush=True)
    if log is not None and exc is not None:
        log.error(exc)
        log.emit("run_end", status="error", steps=0, exit_code=code)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    try:
        run_dir, cfg = parse(argv)
    except ConfigError as exc:
        return _fail(str(exc), ExitCode.BAD_INPUT)
    worker = this_worker() if cfg.workers > 1 else None
    if cfg.workers > 1 and (worker is None or worker.world != cfg.workers):
        return _fail(f"--workers {cfg.workers}: this process was not started as one worker of {cfg.workers} "
                     f"({NUM_PROCESSES} and {PROCESS_ID} are not set for it); memtui starts the group: "
                     f"memtui run --backend jax --workers {cfg.workers}", ExitCode.BAD_INPUT)
    try:
        log = EventLog(run_dir, name=events_name(worker.rank if worker else 0))
        if worker is None or worker.leader:
            cfg.save(run_dir / CONFIG_FILE)
    except OSError as exc:
        return _fail(f"--run-dir: cannot write to {run_dir} ({exc.strerror})", ExitCode.BAD_INPUT)
    stop = StopFlag()
    stop.install()
    _stdout_to_stderr()
    from trainer.data import list_image_folder

    try:
        if cfg.data is not None:
            list_image_folder(cfg.data)  # layout errors before paying for TensorFlow
        from trainer.memory import fewer_malloc_arenas, limit_address_space, prepare_environment

        limit_address_space(cfg.host_memory_limit)
        if cfg.backend == "jax" and cfg.host_memory_limit is not None:
            fewer_malloc_arenas()
        if why := backends.missing(cfg.backend):
            raise ConfigError(why)
        env_notes = prepare_environment(cfg)
    except ConfigError as exc:
        return _fail(str(exc), ExitCode.BAD_INPUT, log, exc)
    except (ValueError, OSError) as exc:
        return _fail(f"--host-memory-limit: cannot apply it ({exc})", ExitCode.BAD_INPUT, log, exc)
    code = _train(cfg, run_dir, log, stop, env_notes)
    if worker is not None and code != ExitCode.FINISHED:
        # A worker that failed or stopped leaves at once: JAX's exit-time shutdown
        # barrier would wait for the others, which wait in a collective for this one,
        # until the heartbeat gives up (about 70 s). Its events and log are written.
        sys.stderr.flush()
        os._exit(code)
    return code


def _train(cfg: RunConfig, run_dir: Path, log: EventLog, stop: StopFlag, env_notes: Sequence[str] = ()) -> int:
    progress = None
    try:
        from trainer.run import Progress, train

        progress = Progress()
        for note in env_notes:
            print(f"memtui trainer: {note}", file=sys.stderr, flush=True)
            progress.notes.append(note)
        return train(cfg, run_dir, log, stop, progress)
    except Stopped:
        steps = progress.steps if progress else 0
        log.emit("run_end", status="stopped", steps=steps, peak_memory=progress.peak() if progress else None)
        return ExitCode.STOPPED
    except ConfigError as exc:
        return _fail(str(exc), ExitCode.BAD_INPUT, log, exc)
    except BaseException as exc:
        return _failure(exc, log, progress)


def _failure(exc: BaseException, log: EventLog, progress: object) -> int:
    """OOM (device or host) is exit 3 with an `oom` event; anything else exit 4."""
    steps = getattr(progress, "steps", 0)
    peak = progress.peak() if progress is not None and hasattr(progress, "peak") else None
    if backends.is_oom(exc):
        fields = backends.oom_fields(exc)
        log.emit("oom", **fields)
        log.emit("run_end", status="oom", steps=steps, peak_memory=peak)
        print(f"trainer: out of memory: {fields['message']}", file=sys.stderr, flush=True)
        return ExitCode.OOM
    if isinstance(exc, KeyboardInterrupt):
        log.emit("run_end", status="stopped", steps=steps, peak_memory=peak)
        return ExitCode.STOPPED
    log.error(exc)
    log.emit("run_end", status="error", steps=steps, peak_memory=peak)
    import traceback

    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return ExitCode.ERROR


if __name__ == "__main__":
    sys.exit(main())
