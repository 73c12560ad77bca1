"""Every key of the screen in one table: bindings, help screen and command
palette are all built from it, so they cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    key: str
    action: str
    label: str  # short, for the footer
    description: str  # one sentence, for help and the command palette
    show: bool = True  # in the footer; 80 columns hold nine (all are in help and the palette)


KEYS: tuple[Key, ...] = (
    Key("s", "stop", "stop", "Stop the run gracefully (it finishes the step and saves); press again to force"),
    Key("r", "relaunch", "rerun", "Relaunch with the same settings (stops a live run first)"),
    Key("b", "halve_batch", "½batch", "Relaunch with half the batch size"),
    Key("g", "toggle_growth", "growth", "Toggle TensorFlow memory growth and relaunch"),
    Key("c", "toggle_model", "cnn", "Switch between the small and the large CNN and relaunch"),
    Key("m", "toggle_precision", "fp16", "Toggle mixed precision (float16) and relaunch"),
    Key("a", "double_accum", "accum×2", "Double gradient accumulation and relaunch", show=False),
    Key("A", "toggle_auto", "auto-recover", "Toggle automatic recovery from out-of-memory", show=False),
    Key("f", "find_batch", "find batch", "Find the largest batch that fits, then relaunch with it", show=False),
    Key("l", "show_log", "log", "Show the trainer's full log (scrollable)"),
    Key("t", "next_theme", "theme", "Switch to the next theme", show=False),
    Key("question_mark", "help", "help", "Show every key"),
    Key("q", "quit_app", "quit", "Quit (asks first when a run is going)"),
)


def display_key(key: str) -> str:
    return "?" if key == "question_mark" else key


def bindings() -> list[Binding]:
    return [
        Binding(k.key, k.action, k.label, show=k.show, id=k.action, tooltip=k.description,
                key_display=display_key(k.key))
        for k in KEYS
    ]
