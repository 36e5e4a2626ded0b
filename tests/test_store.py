"""The compiled store: read from the package folder, else from the user's cache folder."""

from __future__ import annotations

import marshal
from pathlib import Path

import pytest

from normalizer._formats import store


def _unwritable(tmp_path: Path) -> Path:
    blocker = tmp_path / "site-packages-file"
    blocker.write_text("a file where the package folder would be: nothing can be written in it")
    return blocker / "_compiled.marshal"


def test_a_store_that_cannot_be_written_next_to_the_package_goes_to_the_cache_and_is_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: with a read-only package folder the store is compiled once, kept in the
    cache folder, and the next start reads it from there instead of compiling again."""
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(store, "STORE", _unwritable(tmp_path))
    fp = ("test", 1)
    data = {"fingerprint": fp, "exchanges": {"okx": {"rules": [1, 2]}}, "policy": {"a": 1}}
    assert store._read_store(fp) is None
    assert store.write_store(data) is True
    kept = store.cache_path()
    assert kept.parent == tmp_path / "cache"
    assert kept.is_file()
    again = store._read_store(fp)
    assert again is not None
    assert again["policy"] == {"a": 1}
    assert marshal.loads(again["exchanges"]["okx"]) == {"rules": [1, 2]}  # noqa: S302 - our own
    # a changed source (another fingerprint) is not served from the cache
    assert store._read_store(("test", 2)) is None


def test_the_package_folder_wins_when_it_is_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: the cache folder is only a fallback; a writable package folder holds the store."""
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(store, "STORE", tmp_path / "pkg" / "_compiled.marshal")
    (tmp_path / "pkg").mkdir()
    fp = ("test", 3)
    assert store.write_store({"fingerprint": fp, "exchanges": {}}) is True
    assert store.STORE.is_file()
    assert not (tmp_path / "cache").exists()
    assert store._read_store(fp) is not None


def test_each_installed_copy_has_its_own_cache_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: two installations (two package paths) never share a cached store."""
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(store, "STORE", tmp_path / "a" / "_compiled.marshal")
    first = store.cache_path()
    monkeypatch.setattr(store, "STORE", tmp_path / "b" / "_compiled.marshal")
    assert store.cache_path() != first
