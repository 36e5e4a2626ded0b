"""The compiled store of the bundled data: where it is, whether it is fresh, reading it.

See ``normalizer._formats.registry`` for what it holds and when it is built.
This module also holds ``ONTOLOGY``, the loaded vocabulary, read from the store
(or compiled from the YAML when the store is missing or stale).
"""

from __future__ import annotations

import _thread  # not threading: its import costs a millisecond at start-up
import contextlib
import marshal
import os
import zlib

from .._core.guards import GuardSet
from .._core.resources import data_path
from .._core.vocabulary import Ontology

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    #: a file's path as this module takes it (pathlib is not imported at start-up)
    AnyPath = str | os.PathLike[str]

#: Bump when the compiled form changes shape.
COMPILER_VERSION = 8
STORE: AnyPath = os.path.join(
    os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "_compiled.marshal"
)
COMMON = "common"


def _yaml_files(folder: str) -> list[str]:
    """The YAML files in a folder, sorted (``scandir``: no stat per name)."""
    try:
        with os.scandir(folder) as it:
            return sorted(e.path for e in it if e.name.endswith(".yaml") and e.is_file())
    except OSError:  # not a folder
        return []


def sources() -> list[AnyPath]:
    """The files the compiled data is made from, in a fixed order."""
    out: list[AnyPath] = []
    for name in ("ontology", "policies"):
        out += _yaml_files(data_path(name))
    with os.scandir(data_path("rules")) as it:
        venues = sorted(e.path for e in it if e.is_dir())
    for venue in venues:
        found = _yaml_files(venue)
        out += [p for p in found if os.path.basename(p) != "tests.yaml"]
    return out


def _name(path: AnyPath) -> str:
    """A source's name in a fingerprint: its folder's and its own."""
    folder, name = os.path.split(os.fspath(path))
    return os.path.basename(folder) + "/" + name


def fingerprint() -> tuple[Any, ...]:
    """What the compiled data depends on: the compiler and every source file's content."""
    parts: list[Any] = [COMPILER_VERSION, marshal.version]
    for path in sources():
        with open(path, "rb") as f:
            data = f.read()
        parts.append((_name(path), len(data), zlib.crc32(data)))
    return tuple(parts)


def stat_fingerprint() -> tuple[Any, ...]:
    """The cheap check: the compiler and every source file's size and modification time.

    As CPython does for bytecode: when these equal the ones recorded in the
    store, the sources are taken as unchanged without reading them; when any
    differs (a file edited, added, removed, or copied elsewhere, as an
    installed wheel is), the content ``fingerprint()`` decides.
    """
    parts: list[Any] = [COMPILER_VERSION, marshal.version]
    for path in sources():
        st = os.stat(path)
        parts.append((_name(path), st.st_size, st.st_mtime_ns))
    return tuple(parts)


def stamp(data: dict[str, Any], fp: tuple[Any, ...], stats: tuple[Any, ...]) -> dict[str, Any]:
    """Record in compiled data what it was compiled from.

    ``stats`` must have been taken before ``fp``, and ``fp`` before compiling:
    a file changed in between then makes the store look stale, never fresh.
    """
    data["fingerprint"] = fp
    data["stats"] = stats
    return data


def cache_path() -> Path:
    """Where the store goes when the package's folder is not writable.

    ``$NORMALIZER_CACHE_DIR``, else ``$XDG_CACHE_HOME/exchange-error-normalizer``,
    else ``~/.cache/exchange-error-normalizer``; one file per installed copy
    (named by the package's path) and per compiler version.
    """
    base = os.environ.get("NORMALIZER_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "exchange-error-normalizer")
    tag = f"{zlib.crc32(str(STORE).encode()):08x}-v{COMPILER_VERSION}-m{marshal.version}"
    from pathlib import Path  # only when the package's own store is missing or stale

    return Path(base) / f"compiled-{tag}.marshal"


class _Sources:
    """The fingerprints of the sources, the content one computed only when needed."""

    def __init__(self, fp: tuple[Any, ...] | None = None, stats: tuple[Any, ...] | None = None):
        self.stats = stats
        self._fp = fp

    def content(self) -> tuple[Any, ...]:
        if self._fp is None:
            self._fp = fingerprint()
        return self._fp


#: The file starts with this, then the header's length (8 bytes, little-endian),
#: the header (a marshal dict: everything but the exchanges, which it lists as
#: offsets), then each exchange's marshal blob, preceded by the file's token.
_MAGIC = b"normalizer-store-2\n"
_TOKEN = 16


class _Blobs:
    """The exchanges of a store on disk, each read from the file when first asked for.

    Each blob is preceded by the token the header names: should the file be
    replaced meanwhile (another process wrote it), a blob whose token differs is
    taken from the new file only when its content fingerprint is the same, and
    is otherwise missing (the registry then compiles that exchange from its YAML).
    """

    def __init__(
        self, path: AnyPath, base: int, offsets: dict[str, Any], token: bytes, fp: object
    ) -> None:
        self.path = path
        self.base = base
        self.offsets = offsets
        self.token = token
        self.fp = fp
        self._read: dict[str, bytes] = {}

    def __contains__(self, name: object) -> bool:
        return name in self.offsets

    def __iter__(self) -> Any:
        return iter(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets)

    def _blob(self, name: str) -> bytes | None:
        start, length = self.offsets[name]
        try:
            with open(self.path, "rb") as f:
                f.seek(self.base + start)
                data = f.read(_TOKEN + length)
        except OSError:
            return None
        if data[:_TOKEN] != self.token or len(data) != _TOKEN + length:
            return None
        return data[_TOKEN:]

    def get(self, name: str, default: bytes | None = None) -> bytes | None:
        blob = self._read.get(name)
        if blob is None and name in self.offsets:
            blob = self._blob(name)
            if blob is None:  # the file was replaced: the new one, if its content is ours
                other = _read_one(self.path, _Sources(self.fp))  # type: ignore[arg-type]
                if other is not None:
                    blob = other["exchanges"]._blob(name)
            if blob is not None:
                self._read[name] = blob
        return blob if blob is not None else default

    def __getitem__(self, name: str) -> bytes:
        blob = self.get(name)
        if blob is None:
            raise KeyError(name)
        return blob

    def items(self) -> list[tuple[str, bytes]]:
        return [(name, self[name]) for name in self.offsets]


def _read_one(path: AnyPath, sources: _Sources) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            if f.read(len(_MAGIC)) != _MAGIC:
                return None
            size = int.from_bytes(f.read(8), "little")
            # our own file, written by write_store() below (or the wheel's build hook)
            data = marshal.loads(f.read(size))  # noqa: S302
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("exchanges"), dict):
        return None
    token = data.pop("token", None)
    if not isinstance(token, bytes):
        return None
    base = len(_MAGIC) + 8 + size
    data["exchanges"] = _Blobs(path, base, data["exchanges"], token, data.get("fingerprint"))
    if sources.stats is not None and data.get("stats") == sources.stats:
        return data  # no source touched since it was compiled
    if data.get("fingerprint") != sources.content():
        return None
    if sources.stats is not None:
        # same content, other stats (files copied, checked out again, installed):
        # record the new ones so that the next start skips reading the sources
        # (best effort: a read-only folder keeps checking the content)
        data["stats"] = sources.stats
        write_store(data, path)
    return data


def _read_store(
    fp: tuple[Any, ...] | None = None, stats: tuple[Any, ...] | None = None
) -> dict[str, Any] | None:
    """The fresh store: the package's own, else the one in the cache folder.

    Fresh means: its recorded ``stats`` equal ``stats``, else its recorded
    content fingerprint equals ``fp`` (computed only then, when not given).
    """
    sources = _Sources(fp, stats)
    data = _read_one(STORE, sources)
    if data is None:
        data = _read_one(cache_path(), sources)
    return data


def _packed(exchange: dict[str, Any]) -> dict[str, Any]:
    """An exchange's plain data with its catalog's entries as a blob of their own
    (decoded when a message is first looked up) and its codes beside them."""
    catalog = exchange.get("catalog")
    if not catalog or len(catalog) != 4:
        return exchange
    name, url, updated, entries = catalog
    out = dict(exchange)
    out["catalog"] = (name, url, updated, marshal.dumps(entries), tuple(e[0] for e in entries))
    return out


def write_store(data: dict[str, Any], path: AnyPath | None = None) -> bool:
    """Write compiled data atomically; False when it could not be written.

    Without ``path``: next to the package (``STORE``), else, when that folder
    is not writable (a read-only site-packages), into ``cache_path()``, so that
    the next start reads it instead of compiling the YAML again.
    """
    if path is None:
        if write_store(data, STORE):
            return True
        target = cache_path()
        with contextlib.suppress(OSError):
            target.parent.mkdir(parents=True, exist_ok=True)
        return write_store(data, target)
    tmp = f"{os.fspath(path)}.{os.getpid()}.{_thread.get_ident()}.tmp"
    # each exchange is a marshal blob of its own, read only when first asked for
    blobs = [
        (name, v if isinstance(v, bytes) else marshal.dumps(_packed(v)))
        for name, v in data["exchanges"].items()
    ]
    token = os.urandom(_TOKEN)
    header = dict(data)
    header["token"] = token
    header["exchanges"] = offsets = {}
    at = 0
    for name, blob in blobs:
        offsets[name] = (at, len(blob))
        at += _TOKEN + len(blob)
    head = marshal.dumps(header)
    try:
        with open(tmp, "wb") as f:
            f.write(_MAGIC + len(head).to_bytes(8, "little") + head)
            for _, blob in blobs:
                f.write(token + blob)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True


_STATS = stat_fingerprint()
#: the compiled data when the store on disk is fresh (the registry fills it otherwise);
#: ``stats``: the sources' sizes and modification times when this module was imported
state: dict[str, Any] = {"data": _read_store(stats=_STATS), "stats": _STATS}


def _ontology_data() -> dict[str, Any]:
    data = state["data"]
    if data is not None:
        return data["ontology"]  # type: ignore[no-any-return]
    from .ontology import compile_ontology

    return compile_ontology()


#: The loaded vocabulary (see ``normalizer._core.vocabulary``).
ONTOLOGY = Ontology(_ontology_data())
#: The safety guards, bound to it (see ``normalizer._core.guards``).
GUARDS = GuardSet(ONTOLOGY)
