"""Every key of the screen in one table: bindings, help screen, command
palette and the verdict panel's remedy keys are all built from it, so they
cannot disagree. A remedy key names its remedy by id (`tui.remedies.table`)
and runs the one action `remedy(id)`; the diagnosis never knows the letters.
Textual is imported only to make the bindings, so `memtui diagnose` can read
the letters without it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.remedies.table import REMEDIES

if TYPE_CHECKING:
    from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    key: str
    action: str
    label: str  # short, for the footer
    description: str  # one sentence, for help and the command palette
    show: bool = True  # in the footer; 80 columns hold nine (all are in help and the palette)
    remedy: str | None = None  # the remedy id this key applies (relaunching with it)

    @property
    def id(self) -> str:
        """The binding's id: the action's name, `remedy-<id>` for a remedy key."""
        return f"remedy-{self.remedy}" if self.remedy else self.action


def remedy_key(key: str, remedy: str, label: str, description: str, show: bool = True) -> Key:
    """A key that relaunches with a remedy of the table, through `action_remedy(id)`."""
    if remedy not in REMEDIES:
        raise LookupError(f"no remedy {remedy!r} in tui.remedies.table")
    return Key(key, f"remedy({remedy!r})", label, description, show, remedy)


KEYS: tuple[Key, ...] = (
    Key("s", "stop", "stop", "Stop the run gracefully (it finishes the step and saves); press again to force"),
    Key("r", "relaunch", "rerun", "Relaunch with the same settings (stops a live run first)"),
    remedy_key("b", "halve-batch", "½batch", "Relaunch with half the batch size"),
    remedy_key("g", "memory-growth", "growth", "Toggle TensorFlow memory growth and relaunch"),
    remedy_key("c", "small-model", "cnn", "Switch between the small and the large CNN and relaunch"),
    remedy_key("m", "mixed-precision", "fp16", "Toggle mixed precision (float16) and relaunch"),
    remedy_key("a", "grad-accum", "accum×2", "Double gradient accumulation and relaunch", show=False),
    remedy_key("x", "xla-off", "xla", "Turn XLA off in your script's model (or back to its own choice) and relaunch",
               show=False),
    Key("A", "toggle_auto", "auto-recover", "Toggle automatic recovery from out-of-memory", show=False),
    Key("f", "find_batch", "find batch", "Find the largest batch that fits, then relaunch with it", show=False),
    Key("escape", "cancel_search", "cancel", "Cancel a find-batch search going on (s does too)", show=False),
    Key("p", "toggle_plots", "plots", "Show the plots (memory, loss) in the step log's place, or the log again; "
        "from 120 columns both are on screen", show=False),
    Key("l", "show_log", "log", "Show the trainer's full log (scrollable)"),
    Key("t", "next_theme", "theme", "Switch to the next theme", show=False),
    Key("question_mark", "help", "help", "Show every key"),
    Key("q", "quit_app", "quit", "Quit (asks first when a run is going)"),
)


REMEDY_KEYS: dict[str, Key] = {k.remedy: k for k in KEYS if k.remedy}  # remedy id -> its key
BY_ACTION: dict[str, Key] = {k.action: k for k in KEYS}


def key_for_remedy(remedy_id: str) -> str | None:
    """The letter that applies a remedy on the screen, None for advice only."""
    key = REMEDY_KEYS.get(remedy_id)
    return key.key if key else None


def display_key(key: str) -> str:
    return {"question_mark": "?", "escape": "esc"}.get(key, key)


def bindings() -> list[Binding]:
    from textual.binding import Binding

    return [
        Binding(k.key, k.action, k.label, show=k.show, id=k.id, tooltip=k.description,
                key_display=display_key(k.key))
        for k in KEYS
    ]
