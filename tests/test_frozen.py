"""The value classes of ``normalizer._core.frozen`` are frozen and slotted, behave as
``dataclass(frozen=True, slots=True)`` does for what the package uses, and the start-up
path imports neither ``typing``, ``dataclasses`` (with ``inspect`` behind it) nor the
load-time machinery (pydantic, PyYAML)."""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from normalizer import Problem
from normalizer._core.frozen import FrozenInstanceError, as_dict, field, frozen, replace
from normalizer._core.table import Probe

ROOT = Path(__file__).resolve().parents[1]


@frozen
class _Base:
    a: int
    b: str = "x"
    hidden: object = field(default=None, repr=False, compare=False)


@frozen
class _Child(_Base):
    c: int = 3


def test_fields_positional_keyword_and_defaults() -> None:
    v = _Child(1)
    assert (v.a, v.b, v.hidden, v.c) == (1, "x", None, 3)
    assert _Child(1, "y", c=4) == _Child(a=1, b="y", c=4)
    with pytest.raises(TypeError):
        _Child()  # type: ignore[call-arg]


def test_every_number_of_fields_gets_the_same_init() -> None:
    """Invariant: for any number of fields, ``__init__`` takes the fields by position and
    by name, applies the defaults, and refuses missing, repeated, extra and unknown
    arguments."""
    for count in (0, 1, 2, 7, 16, 17, 20):
        names = [f"f{i}" for i in range(count)]
        body: dict[str, object] = {"__annotations__": dict.fromkeys(names, "int")}
        if count:
            body[names[-1]] = -1  # the last field has a default
        cls: type[object] = frozen(type(f"V{count}", (), body))
        if count == 0:
            assert cls() == cls()
            with pytest.raises(TypeError):
                cls(1)  # type: ignore[call-arg]
            continue
        given = list(range(count - 1))
        v = cls(*given)
        assert [getattr(v, n) for n in names] == [*given, -1]
        assert cls(*given, 9) == cls(**dict(zip(names, [*given, 9], strict=True)))
        with pytest.raises(TypeError):
            cls(*given[:-1]) if count > 1 else cls(1, 2)
        with pytest.raises(TypeError):
            cls(*given, 9, 10)
        with pytest.raises(TypeError):
            cls(*given, g=1)
        if given:
            with pytest.raises(TypeError):
                cls(*given, **{names[0]: 5})  # given by position and by name


def test_frozen_values_refuse_assignment_and_deletion() -> None:
    v = _Base(1)
    with pytest.raises(FrozenInstanceError):
        v.a = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del v.a  # type: ignore[misc]


def test_equality_and_hash_follow_the_compared_fields_of_the_same_class() -> None:
    assert _Base(1, hidden=object()) == _Base(1, hidden=object())
    assert hash(_Base(1, hidden=1)) == hash(_Base(1, hidden=2))
    assert _Base(1) != _Base(2)
    assert _Base(1) != _Child(1)  # another class is never equal
    assert len({_Base(1), _Base(1), _Base(2)}) == 2


def test_repr_shows_the_shown_fields() -> None:
    assert repr(_Base(1, hidden="secret")) == "_Base(a=1, b='x')"


def test_replace_builds_a_changed_copy_and_refuses_unknown_fields() -> None:
    v = _Child(1)
    w = replace(v, c=9)
    assert (w.a, w.c, v.c) == (1, 9, 3)
    with pytest.raises(TypeError):
        replace(v, nope=1)
    with pytest.raises(TypeError, match="@frozen value"):
        replace(object(), a=1)


def test_copy_replace_works_on_frozen_values_and_records() -> None:
    """``copy.replace`` (Python 3.13) calls ``__replace__``, which dataclasses and
    named tuples define: a ``@frozen`` value and a result record answer it too
    (with the same checks as ``replace()`` and ``_replace()``)."""
    import normalizer

    err = normalizer.normalize("okx", code="58102")
    values = [(_Child(1), {"c": 9}), (err, {"message": "changed"})]
    for value, changes in values:
        changed = value.__replace__(**changes)
        assert type(changed) is type(value)
        for name, new in changes.items():
            assert getattr(changed, name) == new
        if sys.version_info >= (3, 13):
            assert copy.replace(value, **changes) == changed  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        _Child(1).__replace__(nope=1)
    with pytest.raises(normalizer.NormalizerError):
        err.__replace__(nope=1)


def test_signature_names_the_fields_for_help_and_tooltips() -> None:
    """``inspect.signature`` (``help()``, a notebook's tooltip) shows the fields,
    their defaults and annotations, not the shared ``__init__``'s ``*args``."""
    import inspect

    sig = inspect.signature(_Child)
    assert list(sig.parameters) == ["a", "b", "hidden", "c"]
    assert sig.parameters["a"].default is inspect.Parameter.empty
    assert (sig.parameters["b"].default, sig.parameters["c"].default) == ("x", 3)
    assert sig.parameters["a"].annotation == "int"
    assert sig.bind(1, c=2).arguments == {"a": 1, "c": 2}
    assert list(inspect.signature(Problem).parameters) == ["path", "line", "field", "message"]

    @frozen
    class _Made:
        items: list[int] = field(default_factory=list)

    assert "factory 'list'" in repr(inspect.signature(_Made).parameters["items"].default)


def test_as_dict_gives_every_field_by_name_in_order() -> None:
    v = _Child(1, hidden="h")
    assert list(as_dict(v).items()) == [("a", 1), ("b", "x"), ("hidden", "h"), ("c", 3)]


def test_the_package_classes_keep_their_meaning() -> None:
    p = Problem("f.yaml", 3, "code", "bad")
    assert str(p) == "f.yaml:3: code: bad"
    assert p == Problem("f.yaml", 3, "code", "bad")
    assert Probe(code="1") == Probe("1")
    assert hash(Probe("1", "m")) == hash(Probe("1", "m"))


START = r"""
import json, sys
before = set(sys.modules)
import normalizer
err = normalizer.normalize("okx", body='{"code":"58102","msg":"Rate limit reached.","data":[]}',
                           http_status=200)
normalizer.recommend(err, operation="transfer")
print(json.dumps({"before": sorted(before), "after": sorted(sys.modules)}))
"""


def test_start_up_imports_neither_typing_nor_the_load_time_machinery() -> None:
    """Invariant: import + first normalize() + recommend() leave typing, threading,
    base64, pathlib, dataclasses, inspect, pydantic and PyYAML unimported (unless the
    interpreter had them already): ``@frozen`` needs none of them."""
    out = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", START],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    before, after = set(got["before"]), set(got["after"])
    for module in (
        "typing",
        "threading",
        "base64",
        "pathlib",
        "dataclasses",
        "inspect",
        "pydantic",
        "yaml",
    ):
        assert module in before or module not in after, module


def test_value_classes_are_slotted() -> None:
    """Invariant: every @frozen class has slots (no per-instance dict); a subclass adds
    slots only for its own new fields."""
    for cls in (_Base, _Child, Problem):
        assert "__slots__" in vars(cls), cls
    assert not hasattr(_Child(1), "__dict__")
    assert vars(_Child)["__slots__"] == ("c",)


def test_values_survive_pickling_and_copying() -> None:
    for v in (_Child(1, "y", hidden=None, c=4), Problem("f.yaml", None, "", "bad")):
        assert pickle.loads(pickle.dumps(v)) == v  # noqa: S301 - our own bytes
        assert copy.copy(v) == v
        assert copy.deepcopy(v) == v


@frozen
class _Listed:
    items: list[int] = field(default_factory=list)


def test_a_default_factory_gives_each_value_its_own_default() -> None:
    a, b = _Listed(), _Listed()
    a.items.append(1)
    assert b.items == []


def test_a_field_without_a_default_after_one_with_is_refused() -> None:
    body: dict[str, object] = {"__annotations__": {"a": "int", "b": "int"}, "a": 1}
    with pytest.raises(TypeError, match="'b' without a default"):
        frozen(type("Bad", (), body))
    with pytest.raises(ValueError, match="not both"):
        field(default=1, default_factory=list)


def test_the_package_has_one_kind_of_frozen_value_class() -> None:
    """Invariant: every frozen value class of the package is ``@frozen``; no
    ``@dataclass(frozen=True)`` is left beside it (mutable state classes may stay
    dataclasses)."""
    lines = [
        (f"{path.relative_to(ROOT)}:{number}", line.strip())
        for path in sorted((ROOT / "normalizer").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
    ]
    assert sum(line == "@frozen" for _, line in lines) >= 30  # the scan reads the package
    dataclass_frozen = [
        where for where, line in lines if line.startswith("@") and "dataclass(frozen=" in line
    ]
    assert not dataclass_frozen, dataclass_frozen
