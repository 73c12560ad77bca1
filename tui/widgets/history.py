"""Every attempt of this session: config, outcome, steps, peak memory, steps/s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import DataTable

from tui.widgets.words import OUTCOMES, config_short, nbytes

if TYPE_CHECKING:
    from tui.attempt import AttemptInfo

COLUMNS = ("#", "config", "outcome", "steps", "peak", "steps/s")


def row(info: AttemptInfo) -> tuple[str, ...]:
    rate = f"{info.steps_per_second:.1f}" if info.steps_per_second else "–"
    return (
        str(info.number),
        config_short(info.config) if info.config else "?",
        OUTCOMES.get(info.state, info.state),
        str(info.steps),
        nbytes(info.peak_memory) if info.peak_memory else "–",
        rate,
    )


class HistoryTable(DataTable[str]):
    DEFAULT_CSS = "HistoryTable { height: auto; max-height: 6; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="none", zebra_stripes=False, show_cursor=False, **kwargs)  # type: ignore[arg-type]
        self._rows: dict[int, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    def record(self, info: AttemptInfo) -> None:
        """Add or refresh the row of one attempt; unchanged rows cost nothing."""
        new = row(info)
        key = str(info.number)
        old = self._rows.get(info.number)
        if old == new:
            return
        if old is None:
            self.add_row(*new, key=key)
            self.move_cursor(row=self.row_count - 1)
            self.scroll_end(animate=False)
        else:
            for name, a, b in zip(COLUMNS, old, new, strict=True):
                if a != b:
                    self.update_cell(key, name, b, update_width=True)
        self._rows[info.number] = new
