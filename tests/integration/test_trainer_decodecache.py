"""A relaunch does not decode every image again: files already checked (same
path, size and time) are remembered; a changed file is checked again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tinydata import MESSY_SKIPPED, make_messy_folder

pytestmark = pytest.mark.tf


def test_checked_files_are_not_decoded_again_and_a_changed_file_is(tmp_path: Path, monkeypatch) -> None:
    from trainer import data

    root = make_messy_folder(tmp_path / "data")
    cache = tmp_path / "cache"
    decoded: list[int] = []
    real = data._decodable

    def counting(paths: list[str], indices: list[int]) -> set[int]:
        decoded.append(len(indices))
        return real(paths, indices)

    monkeypatch.setattr(data, "_decodable", counting)

    first = data.drop_undecodable(data.list_image_folder(root), cache)
    second = data.drop_undecodable(data.list_image_folder(root), cache)
    assert first.skipped == second.skipped == MESSY_SKIPPED
    assert first.paths == second.paths
    assert decoded == [first.files + MESSY_SKIPPED]  # the second call decoded nothing

    good = Path(first.paths[0])
    good.write_bytes(b"no longer an image")
    third = data.drop_undecodable(data.list_image_folder(root), cache)
    assert decoded[1:] == [1]  # only the changed file
    assert third.skipped == MESSY_SKIPPED + 1 and str(good) not in third.paths


def test_an_unwritable_cache_only_costs_a_decode_pass(tmp_path: Path) -> None:
    from trainer import data

    root = make_messy_folder(tmp_path / "data")
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    folder = data.drop_undecodable(data.list_image_folder(root), blocker / "decodable")
    assert folder.skipped == MESSY_SKIPPED
