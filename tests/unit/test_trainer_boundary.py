"""The contract modules stay light: both processes import them."""

from __future__ import annotations

import subprocess
import sys

import pytest

LIGHT_MODULES = [
    "trainer",
    "trainer.config",
    "trainer.protocol",
    "trainer.eventlog",
    "trainer.signals",
    "trainer.oom",
    "trainer.data",
    "trainer.resume",
    "trainer.backends",
    "trainer.memreading",
]


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_importing_a_light_trainer_module_pulls_in_neither_tensorflow_nor_textual(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'jax', 'textual', 'tui') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
