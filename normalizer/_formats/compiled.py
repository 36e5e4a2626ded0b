"""The compiled rules file of the bundled data: where it is, whether it is fresh, reading it.

See ``normalizer._formats.registry`` for what it holds and when it is built.
This module also holds ``ONTOLOGY``, the loaded vocabulary, read from the compiled file
(or compiled from the YAML when the compiled file is missing or stale).

What a compiled file is trusted on (issue 23):

- Its key: a BLAKE2b digest of every source file's name, length and bytes,
  with the compiler's version, marshal's and the package's (``fingerprint``).
  At start-up the sources are not read when each one's size, modification
  time, inode and *change* time (``st_ctime_ns``) equal the recorded ones
  (``stat_fingerprint``): the kernel sets the change time to now on every
  write and on every ``utime`` call, and no user can set it back, so an edit of
  the same size with the modification time put back still changes it. When
  any of them differs, the content digest decides (about 3 ms for the bundled
  1.3 MB of YAML), and the new stats are recorded when equal.
- Its bytes: the header carries its own digest, and each venue's blob (and
  its catalog's entries, a blob apart read when a message is first looked up)
  a digest checked when it is first read; a compiled file whose bytes changed
  is not used (the header), or that venue, or its catalog, is compiled from its
  YAML (a blob).
- Its folder: a cache folder (``NORMALIZER_CACHE_DIR`` and the default one)
  is used only when owned by the user and writable by no one else (not a
  mode-1777 ``/tmp``); otherwise a ``RuntimeWarning`` says so, and the rules
  compile in memory.
"""

from __future__ import annotations

import _thread  # not threading: its import costs a millisecond at start-up
import marshal
import os

from .._core.guards import GuardSet
from .._core.resources import VERSION, data_path

try:  # the C module itself: hashlib imports OpenSSL, 3 ms at start-up
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b
from .._core.vocabulary import Ontology

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    #: a file's path as this module takes it (pathlib is not imported at start-up)
    AnyPath = str | os.PathLike[str]

#: Bump when the compiled form changes shape.
COMPILER_VERSION = 10
COMPILED: AnyPath = os.path.join(
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
    """What the compiled data depends on: the compiler, the package's version and
    every source file's name and content (one BLAKE2b digest over them all)."""
    digest = blake2b(digest_size=32)
    for path in sources():
        with open(path, "rb") as f:
            data = f.read()
        name = _name(path).encode()
        digest.update(len(name).to_bytes(4, "little") + name)
        digest.update(len(data).to_bytes(8, "little") + data)
    return (COMPILER_VERSION, marshal.version, VERSION, digest.hexdigest())


def stat_fingerprint() -> tuple[Any, ...]:
    """The cheap check: the compiler, the package's version, and every source
    file's size, modification time, change time and inode.

    When these equal the ones recorded in the compiled file, the sources are taken as
    unchanged without reading them; when any differs (a file edited, touched,
    added, removed, or copied elsewhere, as an installed wheel is), the
    content ``fingerprint()`` decides. The change time is what makes this
    sound: a write or a ``utime`` sets it to now, and it cannot be set back.
    """
    parts: list[Any] = [COMPILER_VERSION, marshal.version, VERSION]
    for path in sources():
        st = os.stat(path)
        parts.append((_name(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return tuple(parts)


def stamp(data: dict[str, Any], fp: tuple[Any, ...], stats: tuple[Any, ...]) -> dict[str, Any]:
    """Record in compiled data what it was compiled from.

    ``stats`` must have been taken before ``fp``, and ``fp`` before compiling:
    a file changed in between then makes the compiled file look stale, never fresh.
    """
    data["fingerprint"] = fp
    data["stats"] = stats
    return data


def cache_path() -> Path:
    """Where the compiled file goes when the package's folder is not writable.

    ``$NORMALIZER_CACHE_DIR``, else ``$XDG_CACHE_HOME/exchange-error-normalizer``,
    else ``~/.cache/exchange-error-normalizer``; one file per installed copy
    (named by the package's path) and per compiler version.
    """
    base = os.environ.get("NORMALIZER_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "exchange-error-normalizer")
    import zlib  # only when the package's own compiled file is missing or stale

    tag = f"{zlib.crc32(str(COMPILED).encode()):08x}-v{COMPILER_VERSION}-m{marshal.version}"
    from pathlib import Path  # only when the package's own compiled file is missing or stale

    return Path(base) / f"compiled-{tag}.marshal"


def _private(path: AnyPath) -> bool:
    """Whether a cache folder (or file) may be trusted: owned by this user and
    writable by no one else. Warns (once per path) when it is not."""
    try:
        st = os.stat(path)
    except OSError:
        return True  # missing: made by us, with our umask, when written
    getuid = getattr(os, "getuid", None)
    owner_ok = getuid is None or st.st_uid == getuid()
    if owner_ok and not st.st_mode & 0o022:
        return True
    key = os.fspath(path)
    if key not in _warned:
        _warned.add(key)
        import warnings

        warnings.warn(
            f"normalizer: not using the compiled-rules cache {key}: it is "
            + ("not owned by this user" if not owner_ok else "writable by other users")
            + "; the rules are compiled in memory (set NORMALIZER_CACHE_DIR to a private folder)",
            RuntimeWarning,
            stacklevel=3,
        )
    return False


_warned: set[str] = set()


def _cache_usable(path: Path) -> bool:
    """The cache file and its folder are private (see ``_private``)."""
    return _private(path.parent) and _private(path)


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
#: (the format's first name, kept: files already written stay readable)
_MAGIC = b"normalizer-store-3\n"
_TOKEN = 16
_DIGEST = 16  # BLAKE2b digest of the header, and of each blob, in bytes


def _digest(data: bytes) -> bytes:
    return blake2b(data, digest_size=_DIGEST).digest()


class _Blobs:
    """One table of a compiled file on disk (``exchanges``, or ``catalogs``: the
    entries of each exchange's catalog apart, read only when a message is first
    looked up), each blob read from the file when first asked for.

    Each blob is preceded by the token the header names: should the file be
    replaced meanwhile (another process wrote it), a blob whose token differs is
    taken from the new file only when its content fingerprint is the same, and
    is otherwise missing (the registry then compiles that exchange from its YAML).
    """

    def __init__(
        self,
        path: AnyPath,
        base: int,
        offsets: dict[str, Any],
        token: bytes,
        fp: object,
        table: str = "exchanges",
    ) -> None:
        self.path = path
        self.base = base
        self.offsets = offsets
        self.token = token
        self.fp = fp
        self.table = table
        self._read: dict[str, bytes] = {}

    def __contains__(self, name: object) -> bool:
        return name in self.offsets

    def __iter__(self) -> Any:
        return iter(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets)

    def _blob(self, name: str) -> bytes | None:
        try:
            start, length, digest = self.offsets[name]
            with open(self.path, "rb") as f:
                f.seek(self.base + start)
                token = f.read(_TOKEN)
                data = f.read(length)  # read apart: no copy of a blob of 100s of KB
        except (OSError, ValueError, TypeError):
            return None
        if token != self.token or len(data) != length:
            return None
        if _digest(data) != digest:
            return None  # bytes changed since written: compiled from the YAML instead
        return data

    def get(self, name: str, default: bytes | None = None) -> bytes | None:
        blob = self._read.get(name)
        if blob is None and name in self.offsets:
            blob = self._blob(name)
            if blob is None:  # the file was replaced: the new one, if its content is ours
                other = _read_one(self.path, _Sources(self.fp))  # type: ignore[arg-type]
                if other is not None:
                    blob = other[self.table]._blob(name)
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
            digest = f.read(_DIGEST)
            head = f.read(size)
            if len(head) != size or _digest(head) != digest:
                return None  # truncated, or bytes changed since written
            # our own file, written by write_compiled() below (or the wheel's build hook)
            data = marshal.loads(head)  # noqa: S302
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("exchanges"), dict):
        return None
    token = data.pop("token", None)
    catalogs = data.get("catalogs", {})
    if not isinstance(token, bytes) or not isinstance(catalogs, dict):
        return None
    base = len(_MAGIC) + 8 + _DIGEST + size
    fp = data.get("fingerprint")
    data["exchanges"] = _Blobs(path, base, data["exchanges"], token, fp)
    data["catalogs"] = _Blobs(path, base, catalogs, token, fp, "catalogs")
    if sources.stats is not None and data.get("stats") == sources.stats:
        return data  # no source touched since it was compiled
    if data.get("fingerprint") != sources.content():
        return None
    if sources.stats is not None:
        # same content, other stats (files copied, checked out again, installed):
        # record the new ones so that the next start skips reading the sources
        # (best effort: a read-only folder keeps checking the content)
        data["stats"] = sources.stats
        write_compiled(data, path)
    return data


def _read_compiled(
    fp: tuple[Any, ...] | None = None, stats: tuple[Any, ...] | None = None
) -> dict[str, Any] | None:
    """The fresh compiled file: the package's own, else the one in the cache folder.

    Fresh means: its recorded ``stats`` equal ``stats``, else its recorded
    content fingerprint equals ``fp`` (computed only then, when not given).
    """
    sources = _Sources(fp, stats)
    data = _read_one(COMPILED, sources)
    if data is None:
        cached = cache_path()
        if _cache_usable(cached):
            data = _read_one(cached, sources)
    return data


def _packed(exchange: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]:
    """An exchange's plain data, its catalog's codes kept and its entries apart:
    a blob of their own in the ``catalogs`` table, read and decoded when a
    message is first looked up (most first calls carry a known code)."""
    catalog = exchange.get("catalog")
    if not catalog or len(catalog) != 4:
        return exchange, None
    name, url, updated, entries = catalog
    out = dict(exchange)
    out["catalog"] = (name, url, updated, None, tuple(e[0] for e in entries))
    return out, marshal.dumps(entries)


def write_compiled(data: dict[str, Any], path: AnyPath | None = None) -> bool:
    """Write compiled data atomically; False when it could not be written.

    Without ``path``: next to the package (``COMPILED``), else, when that folder
    is not writable (a read-only site-packages), into ``cache_path()``, so that
    the next start reads it instead of compiling the YAML again.
    """
    import contextlib  # writing only: not imported at start-up

    if path is None:
        if write_compiled(data, COMPILED):
            return True
        target = cache_path()
        with contextlib.suppress(OSError):
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _cache_usable(target):
            return False
        return write_compiled(data, target)
    tmp = f"{os.fspath(path)}.{os.getpid()}.{_thread.get_ident()}.tmp"
    # each exchange is a marshal blob of its own, read only when first asked for,
    # and so are its catalog's entries
    blobs: list[tuple[str, str, bytes]] = []  # (table, exchange, blob)
    read = data.get("catalogs")  # a compiled file's own, when ``data`` was read from one
    for name, v in data["exchanges"].items():
        if isinstance(v, bytes):
            plain, entries = v, read.get(name) if read is not None else None
        else:
            packed, entries = _packed(v)
            plain = marshal.dumps(packed)
        blobs.append(("exchanges", name, plain))
        if entries is not None:
            blobs.append(("catalogs", name, entries))
    token = os.urandom(_TOKEN)
    header = dict(data)
    header["token"] = token
    header["exchanges"] = {}
    header["catalogs"] = {}
    at = 0
    for table, name, blob in blobs:
        header[table][name] = (at, len(blob), _digest(blob))
        at += _TOKEN + len(blob)
    head = marshal.dumps(header)
    try:
        with open(tmp, "wb") as f:
            f.write(_MAGIC + len(head).to_bytes(8, "little") + _digest(head) + head)
            for _, _, blob in blobs:
                f.write(token + blob)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True


_STATS = stat_fingerprint()
#: the compiled data when the compiled file on disk is fresh (the registry fills it otherwise);
#: ``stats``: the sources' sizes and modification times when this module was imported
state: dict[str, Any] = {"data": _read_compiled(stats=_STATS), "stats": _STATS}


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
