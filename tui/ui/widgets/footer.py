"""The key footer: Textual's Footer without its memory leak.

Textual 8.2's Footer rebuilds its keys whenever the enabled bindings change
(every change of run state here). Each new key is `data_bind`-ed to the
footer's `compact`, which registers a watcher on the footer; Textual prunes
watchers of removed widgets only when `compact` itself changes, which it never
does. So every rebuild kept all the old keys alive: measured at about 300 KiB
a rebuild, without bound over a long session. After each rebuild this footer
drops the watchers of keys that are gone.
"""

from __future__ import annotations

from textual.widgets import Footer


class KeyFooter(Footer):
    async def recompose(self) -> None:
        await super().recompose()
        watchers = getattr(self, "__watchers", None)
        if not isinstance(watchers, dict):  # a Textual without the leak's cause
            return
        for name, entries in watchers.items():
            watchers[name] = [(node, callback) for node, callback in entries
                              if not getattr(node, "_closing", False) and not getattr(node, "_closed", False)]
