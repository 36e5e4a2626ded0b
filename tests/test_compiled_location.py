"""The compiled rules file: read from the package folder, else from the user's cache folder."""

from __future__ import annotations

import marshal
import os
from pathlib import Path

import pytest

from normalizer._formats import compiled


def _unwritable(tmp_path: Path) -> Path:
    blocker = tmp_path / "site-packages-file"
    blocker.write_text("a file where the package folder would be: nothing can be written in it")
    return blocker / "_compiled.marshal"


def test_compiled_rules_that_cannot_be_written_next_to_the_package_go_to_the_cache_and_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: with a read-only package folder the rules are compiled once, kept in the
    cache folder, and the next start reads it from there instead of compiling again."""
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(compiled, "COMPILED", _unwritable(tmp_path))
    fp = ("test", 1)
    data = {"fingerprint": fp, "exchanges": {"okx": {"rules": [1, 2]}}, "policy": {"a": 1}}
    assert compiled._read_compiled(fp) is None
    assert compiled.write_compiled(data) is True
    kept = compiled.cache_path()
    assert kept.parent == tmp_path / "cache"
    assert kept.is_file()
    again = compiled._read_compiled(fp)
    assert again is not None
    assert again["policy"] == {"a": 1}
    assert marshal.loads(again["exchanges"]["okx"]) == {"rules": [1, 2]}  # noqa: S302 - our own
    # a changed source (another fingerprint) is not served from the cache
    assert compiled._read_compiled(("test", 2)) is None


def test_the_package_folder_wins_when_it_is_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: the cache folder is only a fallback; a writable package folder holds the
    compiled file."""
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(compiled, "COMPILED", tmp_path / "pkg" / "_compiled.marshal")
    (tmp_path / "pkg").mkdir()
    fp = ("test", 3)
    assert compiled.write_compiled({"fingerprint": fp, "exchanges": {}}) is True
    assert compiled.COMPILED.is_file()
    assert not (tmp_path / "cache").exists()
    assert compiled._read_compiled(fp) is not None


def test_each_installed_copy_has_its_own_cache_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: two installations (two package paths) never share a cached compiled file."""
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compiled, "COMPILED", tmp_path / "a" / "_compiled.marshal")
    first = compiled.cache_path()
    monkeypatch.setattr(compiled, "COMPILED", tmp_path / "b" / "_compiled.marshal")
    assert compiled.cache_path() != first


def _sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Two YAML sources of our own in place of the bundled ones, and a compiled file beside them."""
    folder = tmp_path / "rules" / "okx"
    folder.mkdir(parents=True)
    files = [folder / "exchange.yaml", folder / "rules.yaml"]
    files[0].write_text("exchange: okx\n")
    files[1].write_text("rules: []\n")
    monkeypatch.setattr(compiled, "sources", lambda: list(files))
    monkeypatch.setattr(compiled, "COMPILED", tmp_path / "pkg" / "_compiled.marshal")
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "pkg").mkdir()
    data = {"exchanges": {"okx": {"rules": [1]}}, "policy": {"a": 1}}
    stats = compiled.stat_fingerprint()
    assert compiled.write_compiled(compiled.stamp(data, compiled.fingerprint(), stats)) is True
    return files


def test_untouched_sources_are_not_read_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: when every source's size and modification time equal the ones the compiled file
    recorded, the compiled file is fresh without reading (checksumming) any source."""
    _sources(tmp_path, monkeypatch)
    stats = compiled.stat_fingerprint()

    def unread() -> tuple[object, ...]:
        raise AssertionError("the sources were read although their stats did not change")

    monkeypatch.setattr(compiled, "fingerprint", unread)
    data = compiled._read_compiled(stats=stats)
    assert data is not None
    assert data["policy"] == {"a": 1}


def test_a_changed_yaml_file_makes_the_compiled_file_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: a source whose content changed is never served from the compiled file, whether its
    size changed or only its modification time (same size, other bytes)."""
    files = _sources(tmp_path, monkeypatch)
    files[1].write_text("rules: [1]\n")  # another size
    assert compiled._read_compiled(stats=compiled.stat_fingerprint()) is None
    files = _sources(tmp_path / "again", monkeypatch)
    before = files[0].stat()
    files[0].write_text("exchange: okz\n")  # same size, other content
    os.utime(files[0], ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert compiled._read_compiled(stats=compiled.stat_fingerprint()) is None
    # an added source is a change too
    extra = files[0].with_name("catalog.yaml")
    extra.write_text("codes: []\n")
    monkeypatch.setattr(compiled, "sources", lambda: [*files, extra])
    assert compiled._read_compiled(stats=compiled.stat_fingerprint()) is None


def test_same_content_with_other_stats_is_fresh_and_the_new_stats_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: sources touched (or copied, as a wheel's are when installed) but equal in
    content keep the compiled file fresh, and the compiled file then records the new stats so
    that the next start does not read the sources again."""
    files = _sources(tmp_path, monkeypatch)
    before = files[0].stat()
    os.utime(files[0], ns=(before.st_atime_ns, before.st_mtime_ns + 5_000_000))
    stats = compiled.stat_fingerprint()
    data = compiled._read_compiled(stats=stats)
    assert data is not None
    assert data["policy"] == {"a": 1}
    assert marshal.loads(data["exchanges"]["okx"]) == {"rules": [1]}  # noqa: S302 - our own

    def unread() -> tuple[object, ...]:
        raise AssertionError("the sources were read again although the new stats were recorded")

    monkeypatch.setattr(compiled, "fingerprint", unread)
    again = compiled._read_compiled(stats=stats)
    assert again is not None
    assert again["stats"] == stats


def test_a_compiled_file_replaced_meanwhile_serves_an_exchange_only_from_the_same_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: exchanges are read from the compiled file when first asked for; if another
    process replaced the file meanwhile, an exchange is taken from the new file only when
    it was compiled from the same sources, and is otherwise missing (compiled from YAML)."""
    _sources(tmp_path, monkeypatch)
    stats = compiled.stat_fingerprint()
    first = compiled._read_compiled(stats=stats)
    assert first is not None
    exchanges = first["exchanges"]
    # rewritten from the same sources (another token): still served
    assert compiled.write_compiled(dict(first)) is True
    assert marshal.loads(exchanges["okx"]) == {"rules": [1]}  # noqa: S302 - our own
    again = compiled._read_compiled(stats=stats)
    assert again is not None
    # rewritten from other sources: missing, never the other sources' data
    other = {"fingerprint": ("other",), "stats": (), "exchanges": {"okx": {"rules": [2]}}}
    assert compiled.write_compiled(other) is True
    assert again["exchanges"].get("okx") is None
    with pytest.raises(KeyError):
        again["exchanges"]["okx"]
