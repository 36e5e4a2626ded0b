"""The compiled rules file is verified, not trusted (issue 23).

A compiled file is keyed by a digest of its sources and the package version; a source
edited to the same size with its modification time put back is noticed (its
change time moved); a compiled file whose bytes changed is not used; a cache folder
another user owns or may write to is not used (a warning; the rules compile in
memory).
"""

from __future__ import annotations

import marshal
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from normalizer._formats import compiled


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Two YAML sources of our own, and the rules compiled from them beside the package."""
    folder = tmp_path / "rules" / "okx"
    folder.mkdir(parents=True)
    files = [folder / "exchange.yaml", folder / "rules.yaml"]
    files[0].write_text("exchange: okx\n")
    files[1].write_text("rules: [a]\n")
    monkeypatch.setattr(compiled, "sources", lambda: list(files))
    monkeypatch.setattr(compiled, "COMPILED", tmp_path / "pkg" / "_compiled.marshal")
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "pkg").mkdir()
    data = {"exchanges": {"okx": {"rules": [1]}, "gate": {"rules": [2]}}, "policy": {"a": 1}}
    stats = compiled.stat_fingerprint()
    assert compiled.write_compiled(compiled.stamp(data, compiled.fingerprint(), stats)) is True
    return files


def test_a_same_size_edit_with_the_modification_time_put_back_is_noticed(
    sources: list[Path],
) -> None:
    """Issue 23: the compiled file was trusted on size and mtime; an edit of the same
    size whose mtime was restored (``touch -r``, ``os.utime``) used stale rules."""
    before = sources[1].stat()
    sources[1].write_text("rules: [b]\n")  # same size, other bytes
    os.utime(sources[1], ns=(before.st_atime_ns, before.st_mtime_ns))
    after = sources[1].stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert compiled._read_compiled(stats=compiled.stat_fingerprint()) is None


def test_another_package_version_does_not_use_the_compiled_file(
    sources: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert compiled._read_compiled(stats=compiled.stat_fingerprint()) is not None
    monkeypatch.setattr(compiled, "VERSION", "99.0.0")
    assert compiled._read_compiled(stats=compiled.stat_fingerprint()) is None


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_compiled_file_whose_header_bytes_changed_is_not_used(sources: list[Path]) -> None:
    path = Path(compiled.COMPILED)
    head_at = len(compiled._MAGIC) + 8 + compiled._DIGEST + 3
    _flip(path, head_at)
    assert compiled._read_compiled(stats=compiled.stat_fingerprint()) is None


def test_a_venue_whose_blob_bytes_changed_is_not_served(sources: list[Path]) -> None:
    """A changed blob is missing (the registry then compiles that venue from its
    YAML); the other venues are still served."""
    path = Path(compiled.COMPILED)
    data = compiled._read_compiled(stats=compiled.stat_fingerprint())
    assert data is not None
    blobs = data["exchanges"]
    start, length, _ = blobs.offsets["okx"]
    _flip(path, blobs.base + compiled._TOKEN + start + length - 1)
    assert blobs.get("okx") is None
    assert marshal.loads(blobs["gate"]) == {"rules": [2]}  # noqa: S302 - our own


def _unwritable_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "site-packages-file"
    blocker.write_text("a file where the package folder would be")
    monkeypatch.setattr(compiled, "COMPILED", blocker / "_compiled.marshal")


def test_a_world_writable_cache_folder_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiled file planted in a mode-1777 cache folder is never read, and none is written
    there."""
    _unwritable_package(tmp_path, monkeypatch)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(shared))
    compiled._warned.clear()
    fp = ("test", 1)
    planted = compiled.cache_path()
    # a compiled file someone planted there, fresh for these sources
    assert compiled.write_compiled({"fingerprint": fp, "exchanges": {}, "policy": "evil"}, planted)
    with pytest.warns(RuntimeWarning, match="writable by other users"):
        assert compiled._read_compiled(fp) is None
    planted.unlink()
    assert compiled.write_compiled({"fingerprint": fp, "exchanges": {}}) is False
    assert not planted.exists()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs chown")
def test_a_cache_folder_owned_by_another_user_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unwritable_package(tmp_path, monkeypatch)
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(theirs))
    compiled._warned.clear()
    fp = ("test", 2)
    assert compiled.write_compiled({"fingerprint": fp, "exchanges": {}}, compiled.cache_path())
    os.chown(theirs, 12345, 12345)
    with pytest.warns(RuntimeWarning, match="not owned by this user"):
        assert compiled._read_compiled(fp) is None


def test_a_private_cache_folder_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _unwritable_package(tmp_path, monkeypatch)
    monkeypatch.setenv("NORMALIZER_CACHE_DIR", str(tmp_path / "mine"))
    fp = ("test", 3)
    assert compiled.write_compiled({"fingerprint": fp, "exchanges": {}, "policy": 1}) is True
    assert stat.S_IMODE(compiled.cache_path().parent.stat().st_mode) & 0o022 == 0
    got = compiled._read_compiled(fp)
    assert got is not None
    assert got["policy"] == 1


def test_the_bundled_compiled_file_records_a_content_digest_and_the_package_version() -> None:
    fp = compiled.fingerprint()
    assert fp[:3] == (compiled.COMPILER_VERSION, marshal.version, compiled.VERSION)
    assert len(fp[3]) == 64


def _catalog_copy(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The bundled compiled data written to a file of the test's own, and read back."""
    from normalizer._formats.registry import _compiled

    data = _compiled()
    path = tmp_path / "compiled.marshal"
    assert compiled.write_compiled(data, path)  # also from data read from a file
    sources = compiled._Sources(data.get("fingerprint"), data.get("stats"))
    read = compiled._read_one(path, sources)
    assert read is not None
    return path, read


def test_a_catalogs_entries_are_a_blob_apart_and_its_codes_are_in_the_venues(
    tmp_path: Path,
) -> None:
    """The first call with a known code reads the venue's blob (with its documented
    codes), not its catalog's entries, which make most of its bytes."""
    _, read = _catalog_copy(tmp_path)
    plain = marshal.loads(read["exchanges"]["okx"])  # noqa: S302 - our own
    name, _, _, packed, codes = plain["catalog"]
    assert name == "okx"
    assert packed is None
    assert "58102" in codes
    entries = marshal.loads(read["catalogs"]["okx"])  # noqa: S302 - our own
    assert [e[0] for e in entries] == list(codes)
    assert read["catalogs"].offsets["okx"][1] > read["exchanges"].offsets["okx"][1]


def test_a_catalog_whose_bytes_changed_is_compiled_from_the_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed catalog blob is not used; the venue's rules still come from the compiled
    file, and its catalog's entries from the YAML, equal to the bundled ones."""
    from normalizer._formats.registry import Registry, registry

    expected = [e.to_plain() for e in registry().get("okx").catalog.entries]
    path, read = _catalog_copy(tmp_path)
    start, length, _ = read["catalogs"].offsets["okx"]
    _flip(path, read["catalogs"].base + compiled._TOKEN + start + length // 2)
    assert read["catalogs"].get("okx") is None
    assert read["exchanges"].get("okx") is not None
    monkeypatch.setitem(compiled.state, "data", read)
    rs = Registry().get("okx")
    assert [e.to_plain() for e in rs.catalog.entries] == expected
