"""The models, the report types and Changes behave as the frozen dataclasses they were declared as.

They are made by ``pymesync.models.frozen_dataclass`` (hand-written ``__init__``, frozenness and repr written
once) instead of ``@dataclasses.dataclass(frozen=True, eq=False, ...)``, which compiled those per class at
import. Each is compared here with a reference the plain decorator makes from the same fields, with the
parameters the class was declared with before.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import inspect
import pickle
import types
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymesync._operations import Changes
from pymesync.models import Activity, ByFieldValues, Project, ProjectRole, Time, User, frozen_dataclass
from pymesync.reports import Gathered, NestedRow, Pivot, Summary, SummaryRow

#: each class and what it was declared with besides ``frozen=True, eq=False``
DECLARED: dict[type, dict[str, bool]] = {
    Time: {"repr": False},
    Project: {"repr": False},
    Activity: {"repr": False},
    User: {"repr": False},
    ProjectRole: {"slots": True},
    Gathered: {},
    SummaryRow: {},
    Summary: {},
    NestedRow: {},
    Pivot: {},
    Changes: {},
}


def _reference(cls: type) -> Any:
    """What ``@dataclasses.dataclass(frozen=True, eq=False, ...)`` makes of ``cls``'s fields and bases."""
    namespace: dict[str, Any] = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "__annotations__": {f.name: f.type for f in dataclasses.fields(cls)},
    }
    for f in dataclasses.fields(cls):
        namespace[f.name] = dataclasses.field(
            default=f.default,
            default_factory=f.default_factory,
            init=f.init,
            repr=f.repr,
            hash=f.hash,
            compare=f.compare,
            metadata=f.metadata,
            kw_only=f.kw_only,
        )
    bases = vars(cls).get("__orig_bases__", cls.__bases__)
    made = types.new_class(cls.__name__, bases, {}, lambda ns: ns.update(namespace))
    return dataclasses.dataclass(frozen=True, eq=False, **DECLARED[cls])(made)


REFERENCES = {cls: _reference(cls) for cls in DECLARED}
classes = pytest.mark.parametrize("cls", list(DECLARED), ids=lambda cls: cls.__name__)

values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4), st.tuples(st.integers()))


def _required(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.default is f.default_factory is dataclasses.MISSING]


@st.composite
def calls(draw: st.DrawFn, cls: type) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Arguments for ``cls(...)``: some fields positionally, others (not all) by keyword."""
    fields = [f.name for f in dataclasses.fields(cls)]
    positional = draw(st.integers(len(_required(cls)), len(fields)))
    args = tuple(draw(values) for _ in range(positional))
    named = draw(st.lists(st.sampled_from(fields[positional:]), unique=True)) if fields[positional:] else []
    return args, {name: draw(values) for name in named}


def _state(obj: object) -> tuple[Any, ...]:
    return tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))  # type: ignore[arg-type]


def _outcome(action: Any) -> object:
    """The result, or the type and text of the exception (texts that name the class are compared whole)."""
    try:
        return action()
    except Exception as error:
        return type(error), str(error)


@classes
def test_they_are_frozen_dataclasses_with_the_same_fields(cls: type) -> None:
    reference = REFERENCES[cls]
    assert dataclasses.is_dataclass(cls)
    for ours, theirs in zip(dataclasses.fields(cls), dataclasses.fields(reference), strict=True):
        assert (ours.name, ours.type, ours.default, ours.default_factory) == (
            theirs.name,
            theirs.type,
            theirs.default,
            theirs.default_factory,
        )
        assert (ours.init, ours.repr, ours.hash, ours.compare, ours.kw_only, dict(ours.metadata)) == (
            theirs.init,
            theirs.repr,
            theirs.hash,
            theirs.compare,
            theirs.kw_only,
            dict(theirs.metadata),
        )
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert cls.__match_args__ == reference.__match_args__  # type: ignore[attr-defined]


@classes
def test_init_has_the_generated_signature(cls: type) -> None:
    reference = REFERENCES[cls]
    assert inspect.signature(cls) == inspect.signature(reference)
    assert str(inspect.signature(cls)) == str(inspect.signature(reference))
    assert cls.__init__.__annotations__ == reference.__init__.__annotations__  # type: ignore[misc]
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"  # type: ignore[misc]


@classes
@given(data=st.data())
def test_init_sets_the_same_fields_from_the_same_arguments(cls: type, data: st.DataObject) -> None:
    reference = REFERENCES[cls]
    args, kwargs = data.draw(calls(cls))
    ours, theirs = cls(*args, **kwargs), reference(*args, **kwargs)
    assert all(a is b for a, b in zip(_state(ours), _state(theirs), strict=True))
    assert vars(type(ours)).get("__slots__") == vars(reference).get("__slots__")


@classes
def test_init_refuses_what_the_generated_one_refuses(cls: type) -> None:
    reference = REFERENCES[cls]
    fields = [f.name for f in dataclasses.fields(cls)]
    required = len(_required(cls))
    bad_calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((None,) * (len(fields) + 1), {}),  # one positional argument too many
        ((None,) * len(fields), {"unknown": 1}),
        ((None,) * len(fields), {fields[0]: None}),  # given twice
    ]
    if required:
        bad_calls.append(((None,) * (required - 1), {}))
    for args, kwargs in bad_calls:
        with pytest.raises(TypeError):
            cls(*args, **kwargs)
        with pytest.raises(TypeError):
            reference(*args, **kwargs)


def _sample(cls: type) -> tuple[object, object]:
    """The same instance of ``cls`` and of its reference, from every field's default or a small value."""
    kwargs = {
        f.name: datetime.date(2025, 1, 6) if f.name in _required(cls) else f.default
        for f in dataclasses.fields(cls)
        if f.default_factory is dataclasses.MISSING
    }
    return cls(**kwargs), REFERENCES[cls](**kwargs)


@classes
def test_assigning_or_deleting_any_attribute_is_refused_alike(cls: type) -> None:
    ours, theirs = _sample(cls)
    before = _state(ours)
    for name in [*(f.name for f in dataclasses.fields(cls)), "unknown", "__dict__"]:
        assign = _outcome(lambda obj=ours, name=name: setattr(obj, name, 1))
        delete = _outcome(lambda obj=ours, name=name: delattr(obj, name))
        assert assign == (dataclasses.FrozenInstanceError, f"cannot assign to field {name!r}")
        assert delete == (dataclasses.FrozenInstanceError, f"cannot delete field {name!r}")
        # the generated methods of a slotted class test (and call super() with) the class before dataclasses
        # remade it with __slots__: a name that is not a field met a TypeError there (Python 3.11)
        if not (cls is ProjectRole and name not in cls.__match_args__):
            assert assign == _outcome(lambda obj=theirs, name=name: setattr(obj, name, 1))
            assert delete == _outcome(lambda obj=theirs, name=name: delattr(obj, name))
    assert _state(ours) == before


@classes
def test_a_plain_subclass_keeps_its_own_attributes_but_not_the_fields(cls: type) -> None:
    # the reference of the slotted class meets the TypeError above for any name not a field
    for base in (cls,) if cls is ProjectRole else (cls, REFERENCES[cls]):
        sub = type("Sub", (base,), {})
        obj = sub(*_state(_sample(cls)[0]))
        name = dataclasses.fields(cls)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot assign to field '{name}'"):
            setattr(obj, name, 1)
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot delete field '{name}'"):
            delattr(obj, name)
        obj.note = "kept"
        assert obj.note == "kept"
        del obj.note
        assert not hasattr(obj, "note")


@classes
def test_dataclass_subclasses_are_checked_as_of_a_frozen_base(cls: type) -> None:
    for base in (cls, REFERENCES[cls]):
        namespace = {"__annotations__": {"more": "int"}, "more": 0}
        frozen_sub = dataclasses.dataclass(frozen=True, eq=False)(type("Sub", (base,), namespace))
        obj = frozen_sub(*_state(_sample(cls)[0]), more=5)
        assert obj.more == 5
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.more = 6
        with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen one"):
            dataclasses.dataclass(type("Sub", (base,), dict(namespace)))


@classes
@given(data=st.data())
def test_repr_eq_hash_and_dataclass_functions_are_the_same(cls: type, data: st.DataObject) -> None:
    reference = REFERENCES[cls]
    args, kwargs = data.draw(calls(cls))
    ours, theirs = cls(*args, **kwargs), reference(*args, **kwargs)
    # the models' own repr may refuse values of the wrong type: so does the reference's (the same method)
    assert _outcome(lambda: repr(ours)) == _outcome(lambda: repr(theirs))
    assert ours == cls(*args, **kwargs)
    assert ours != theirs  # not of the same class
    assert _outcome(lambda: hash(ours)) == _outcome(lambda: hash(theirs))
    assert _outcome(lambda: dataclasses.astuple(ours)) == _outcome(lambda: dataclasses.astuple(theirs))
    assert _outcome(lambda: dataclasses.asdict(ours)) == _outcome(lambda: dataclasses.asdict(theirs))
    changes = data.draw(st.dictionaries(st.sampled_from([f.name for f in dataclasses.fields(cls)]), values))
    replaced = dataclasses.replace(ours, **changes)
    assert type(replaced) is cls
    assert _state(replaced) == _state(dataclasses.replace(theirs, **changes))


def test_report_reprs_are_the_dataclass_reprs() -> None:
    row = SummaryRow(("gwm", datetime.date(2025, 1, 6)), 3600, 2)
    assert repr(row) == "SummaryRow(group=('gwm', datetime.date(2025, 1, 6)), seconds=3600, entries=2)"
    assert repr(ProjectRole(member=True)) == "ProjectRole(member=True, spectator=False, manager=False)"
    assert repr(Changes([], ["a"], "t")) == "Changes(changed=[], deleted=['a'], token='t', restarted=False)"
    looped = Pivot("day", "project", (), (), {}, {}, {}, 0)
    looped.cells["me"] = looped  # type: ignore[index]
    theirs = REFERENCES[Pivot]("day", "project", (), (), {}, {}, {}, 0)
    theirs.cells["me"] = theirs
    assert repr(looped) == repr(theirs)
    assert repr(looped) == (
        "Pivot(rows_by='day', columns_by='project', row_values=(), column_values=(), cells={'me': ...}, "
        "row_totals={}, column_totals={}, total_seconds=0)"
    )


@classes
def test_copying_and_pickling_are_as_before(cls: type) -> None:
    ours, theirs = _sample(cls)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        reduced = _outcome(lambda protocol=protocol: ours.__reduce_ex__(protocol))
        expected = _outcome(lambda protocol=protocol: theirs.__reduce_ex__(protocol))
        assert repr(reduced).replace(repr(cls), "CLS") == repr(expected).replace(repr(type(theirs)), "CLS")
    assert _outcome(lambda: copy.copy(ours)) == ours
    # models hold a read-only mapping (extra), which neither pickles nor deep-copies: as before
    unpicklable = isinstance(_outcome(lambda: pickle.dumps(ours)), tuple)
    assert unpicklable == (cls in (Time, Project, Activity, User))
    if not unpicklable:
        assert pickle.loads(pickle.dumps(ours)) == ours
        assert copy.deepcopy(ours) == ours


def test_pickles_are_byte_for_byte_those_of_before() -> None:
    """Made at 7f15b87, when the decorator was ``@dataclasses.dataclass(frozen=True, ...)``."""
    role = (
        b"\x80\x04\x95.\x00\x00\x00\x00\x00\x00\x00\x8c\x0fpymesync.models\x94\x8c\x0bProjectRole\x94\x93\x94)\x81\x94]"
        b"\x94(\x88\x89\x88eb."
    )
    assert pickle.dumps(ProjectRole(True, False, True), protocol=4) == role
    assert pickle.loads(role) == ProjectRole(member=True, manager=True)
    assert not hasattr(ProjectRole(), "__dict__")
    row = (
        b"\x80\x04\x95r\x00\x00\x00\x00\x00\x00\x00\x8c\x10pymesync.reports\x94\x8c\nSummaryRow\x94\x93\x94)\x81"
        b"\x94}\x94(\x8c\x05group\x94\x8c\x03gwm\x94\x8c\x08datetime\x94\x8c\x04date\x94\x93\x94C\x04\x07\xe9\x01"
        b"\x01\x94\x85\x94R\x94\x86\x94\x8c\x07seconds\x94K<\x8c\x07entries\x94K\x01ub."
    )
    assert pickle.dumps(SummaryRow(("gwm", datetime.date(2025, 1, 1)), 60, 1), protocol=4) == row


def test_a_parametrised_generic_builds_them_too() -> None:
    changes = Changes[Time]([Time(uuid="a")], [], "t")
    assert changes.changed == [Time(uuid="a")]
    assert not hasattr(changes, "__orig_class__")  # refused, as by the generated __setattr__


def test_default_factories_run_per_instance_as_before() -> None:
    assert Time().extra is Time().extra == {}  # the factory returns one shared read-only mapping
    assert Project().users == {} and Project(users={"a": ProjectRole()}).users == {"a": ProjectRole()}
    assert dataclasses.replace(Time(extra={"x": 1}), duration=5).extra == {"x": 1}


def test_only_by_field_values_classes_that_write_their_init_are_made() -> None:
    """Without ByFieldValues a class would be neither frozen nor compared; without __init__, not built."""
    with pytest.raises(TypeError, match="for ByFieldValues classes with an __init__"):

        @frozen_dataclass()
        class Forgotten(ByFieldValues):
            value: int = 0

    with pytest.raises(TypeError, match="for ByFieldValues classes with an __init__"):

        @frozen_dataclass()
        class Plain:
            value: int = 0

            def __init__(self, value: int = 0) -> None:
                self.value = value


def test_type_checkers_see_frozen_dataclasses(tmp_path: Any) -> None:
    """mypy --strict rejects assigning a field and knows the ``__init__`` signatures."""
    api = pytest.importorskip("mypy.api")
    checked = tmp_path / "uses.py"
    checked.write_text(
        "import dataclasses\n"
        "from pymesync._operations import Changes\n"
        "from pymesync.models import ProjectRole, Time\n"
        "from pymesync.reports import SummaryRow\n"
        "time = Time(uuid='x', duration=5)\n"
        "time.duration = 5\n"  # line 6
        "time.unknown = 1\n"
        "Time(duration='5')\n"
        "Time(bogus=1)\n"
        "ProjectRole(member=True).member = False\n"  # line 10
        "SummaryRow((), 1)\n"
        "Changes([time], [], 't').token = 'u'\n"
        "reveal_type(dataclasses.replace(time, duration=7))\n"
        "reveal_type(Changes([time], [], 't').changed)\n"
    )
    cache = str(tmp_path / "cache")
    out, _, status = api.run(["--strict", "--no-error-summary", "--cache-dir", cache, str(checked)])
    lines = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith(str(checked))]
    assert status == 1
    assert [line for line in lines if line.startswith("error")] == [
        'error: Property "duration" defined in "Time" is read-only  [misc]',
        'error: "Time" has no attribute "unknown"  [attr-defined]',
        'error: Argument "duration" to "Time" has incompatible type "str"; expected "int"  [arg-type]',
        'error: Unexpected keyword argument "bogus" for "Time"  [call-arg]',
        'error: Property "member" defined in "ProjectRole" is read-only  [misc]',
        'error: Missing positional argument "entries" in call to "SummaryRow"  [call-arg]',
        'error: Property "token" defined in "Changes" is read-only  [misc]',
    ]
    assert [line.replace("builtins.", "") for line in lines if line.startswith("note: Revealed")] == [
        'note: Revealed type is "pymesync.models.Time"',
        'note: Revealed type is "list[pymesync.models.Time]"',
    ]
