"""What the batch path ships to its workers, and what each worker loads from it.

A custom policy travels as its YAML text (``PolicySource``) and a user rules
folder as the bytes of its YAML files (``RulesSource``): plain, picklable
data, checked on the driver, so a bad file is refused before any row and the
workers need neither file. Each worker process loads what it was shipped
once (``policy_of``, ``registry_of``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from pathlib import Path

from .._core.errors import ArgumentTypeError, ArgumentValueError
from .._core.frozen import field, frozen
from .._core.policy import Policy
from .._engine.recommend import _policy as _policy_of_argument
from .._formats.policy import parse_policy
from .._formats.registry import Registry

#: A user rules folder shipped to workers holds at most this many bytes of YAML.
MAX_RULES_BYTES = 64 * 1024 * 1024


@frozen
class PolicySource:
    """A policy file as data: its name (for messages) and its YAML text."""

    name: str
    text: str

    @classmethod
    def read(cls, path: str | Path) -> PolicySource:
        """Read and check a policy file here (a bad one is refused before any row)."""
        _policy_of_argument(path)  # refuses a bad or missing file with its name and line
        source = cls(str(path), Path(path).read_text(encoding="utf-8"))
        parse_policy(source.text, source.name)  # what the workers will load
        return source


@frozen
class RulesSource:
    """A rules folder as data: the bytes of its YAML files, by relative path.

    The folder has ``<exchange>/exchange.yaml``, ``rules.yaml``, optionally
    ``catalog.yaml``, and ``common/`` (what ``exchange-normalizer coverage --rules-dir``
    reads). A worker writes the files to a private temporary folder, once per
    process, and loads the rules from there; so the folder need not exist on
    the workers' machines.
    """

    name: str
    files: tuple[tuple[str, bytes], ...]
    digest: str = field(default="", compare=False)

    @classmethod
    def read(cls, root: str | Path) -> RulesSource:
        """Read a rules folder and check it here (a bad file is refused before any row)."""
        if not isinstance(root, (str, os.PathLike)):
            raise ArgumentTypeError("rules_dir", "a folder (str or Path) or None", root)
        folder = Path(root)
        if not folder.is_dir():
            raise ArgumentValueError(
                "rules_dir", f"rules folder not found: {folder}", root, whole=True
            )
        Registry(None, (folder,)).load_all()  # refuses a bad file with its name and line
        files: list[tuple[str, bytes]] = []
        total = 0
        for path in sorted(folder.rglob("*.yaml")):
            rel = path.relative_to(folder)
            if "docs" in rel.parts[:-1] or not path.is_file():
                continue
            data = path.read_bytes()
            total += len(data)
            if total > MAX_RULES_BYTES:
                raise ArgumentValueError(
                    "rules_dir",
                    f"{folder}: more than {MAX_RULES_BYTES} bytes of YAML to ship",
                    root,
                    whole=True,
                )
            files.append((rel.as_posix(), data))
        digest = hashlib.sha256()
        for rel_name, data in files:
            digest.update(rel_name.encode() + b"\0" + data + b"\0")
        return cls(str(folder), tuple(files), digest.hexdigest())


# Per process: what a spec's data loads into, loaded once.
_loaded_lock = threading.Lock()
_policies: dict[tuple[str, str], Policy] = {}
_registries: dict[str, Registry] = {}


def policy_of(policy: PolicySource | Policy | None) -> Policy | None:
    """A shipped policy, as ``recommend()`` takes it (None: the bundled one)."""
    if policy is None:
        return None
    if isinstance(policy, Policy):
        return policy
    key = (policy.name, policy.text)
    hit = _policies.get(key)
    if hit is None:
        with _loaded_lock:
            if len(_policies) >= 16:
                _policies.clear()
            hit = _policies[key] = parse_policy(policy.text, policy.name)
    return hit


def registry_of(rules: RulesSource | None) -> Registry | None:
    """The shipped rules, loaded (None: the bundled ones)."""
    if rules is None:
        return None
    digest = rules.digest or hashlib.sha256(repr(rules.files).encode()).hexdigest()
    hit = _registries.get(digest)
    if hit is None:
        with _loaded_lock:
            hit = _registries.get(digest)
            if hit is None:
                hit = _registries[digest] = Registry(None, (_materialize(rules, digest),))
    return hit


def _materialize(rules: RulesSource, digest: str) -> Path:
    """The shipped rules as a folder of this machine (written once per content)."""
    import tempfile

    local = Path(rules.name)
    if local.is_dir():  # the driver, or a worker on the same machine: check it is the same
        try:
            same = all((local / rel).read_bytes() == data for rel, data in rules.files)
        except OSError:
            same = False
        if same:
            return local
    root = Path(tempfile.gettempdir()) / f"normalizer-rules-{os.getuid()}-{digest[:16]}"
    if not root.is_dir():
        staging = Path(tempfile.mkdtemp(prefix="normalizer-rules-"))
        for rel, data in rules.files:
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        with contextlib.suppress(OSError):  # another process won the race: the same copy
            staging.rename(root)
    return root
