"""The compiled store: read from the package folder, else from the user's cache folder."""

from __future__ import annotations

import marshal
import os
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


def _sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Two YAML sources of our own in place of the bundled ones, and a store beside them."""
    folder = tmp_path / "rules" / "okx"
    folder.mkdir(parents=True)
    files = [folder / "exchange.yaml", folder / "rules.yaml"]
    files[0].write_text("exchange: okx\n")
    files[1].write_text("rules: []\n")
    monkeypatch.setattr(store, "sources", lambda: list(files))
    monkeypatch.setattr(store, "STORE", tmp_path / "pkg" / "_compiled.marshal")
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "pkg").mkdir()
    data = {"exchanges": {"okx": {"rules": [1]}}, "policy": {"a": 1}}
    stats = store.stat_fingerprint()
    assert store.write_store(store.stamp(data, store.fingerprint(), stats)) is True
    return files


def test_untouched_sources_are_not_read_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: when every source's size and modification time equal the ones the store
    recorded, the store is fresh without reading (checksumming) any source."""
    _sources(tmp_path, monkeypatch)
    stats = store.stat_fingerprint()

    def unread() -> tuple[object, ...]:
        raise AssertionError("the sources were read although their stats did not change")

    monkeypatch.setattr(store, "fingerprint", unread)
    data = store._read_store(stats=stats)
    assert data is not None
    assert data["policy"] == {"a": 1}


def test_a_changed_yaml_file_makes_the_store_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: a source whose content changed is never served from the store, whether its
    size changed or only its modification time (same size, other bytes)."""
    files = _sources(tmp_path, monkeypatch)
    files[1].write_text("rules: [1]\n")  # another size
    assert store._read_store(stats=store.stat_fingerprint()) is None
    files = _sources(tmp_path / "again", monkeypatch)
    before = files[0].stat()
    files[0].write_text("exchange: okz\n")  # same size, other content
    os.utime(files[0], ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert store._read_store(stats=store.stat_fingerprint()) is None
    # an added source is a change too
    extra = files[0].with_name("catalog.yaml")
    extra.write_text("codes: []\n")
    monkeypatch.setattr(store, "sources", lambda: [*files, extra])
    assert store._read_store(stats=store.stat_fingerprint()) is None


def test_same_content_with_other_stats_is_fresh_and_the_new_stats_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: sources touched (or copied, as a wheel's are when installed) but equal in
    content keep the store fresh, and the store then records the new stats so that the
    next start does not read the sources again."""
    files = _sources(tmp_path, monkeypatch)
    before = files[0].stat()
    os.utime(files[0], ns=(before.st_atime_ns, before.st_mtime_ns + 5_000_000))
    stats = store.stat_fingerprint()
    data = store._read_store(stats=stats)
    assert data is not None
    assert data["policy"] == {"a": 1}
    assert marshal.loads(data["exchanges"]["okx"]) == {"rules": [1]}  # noqa: S302 - our own

    def unread() -> tuple[object, ...]:
        raise AssertionError("the sources were read again although the new stats were recorded")

    monkeypatch.setattr(store, "fingerprint", unread)
    again = store._read_store(stats=stats)
    assert again is not None
    assert again["stats"] == stats


def test_a_store_replaced_meanwhile_serves_an_exchange_only_from_the_same_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: exchanges are read from the store file when first asked for; if another
    process replaced the file meanwhile, an exchange is taken from the new file only when
    it was compiled from the same sources, and is otherwise missing (compiled from YAML)."""
    _sources(tmp_path, monkeypatch)
    stats = store.stat_fingerprint()
    first = store._read_store(stats=stats)
    assert first is not None
    exchanges = first["exchanges"]
    # rewritten from the same sources (another token): still served
    assert store.write_store(dict(first)) is True
    assert marshal.loads(exchanges["okx"]) == {"rules": [1]}  # noqa: S302 - our own
    again = store._read_store(stats=stats)
    assert again is not None
    # rewritten from other sources: missing, never the other sources' data
    other = {"fingerprint": ("other",), "stats": (), "exchanges": {"okx": {"rules": [2]}}}
    assert store.write_store(other) is True
    assert again["exchanges"].get("okx") is None
    with pytest.raises(KeyError):
        again["exchanges"]["okx"]
