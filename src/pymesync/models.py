"""Typed, immutable TimeSync objects for the pythonic clients.

Conventions, stated once for the whole package:

* **durations are ``int`` seconds** (what the API stores); inputs also accept ``datetime.timedelta`` and
  ``"1h30m"`` strings;
* dates are :class:`datetime.date` (the API's ``YYYY-MM-DD``, UTC) or ``None`` when unset;
* ``parents`` is ``None`` unless revisions were asked for, then a tuple in the order the server sent;
* fields a newer server adds are kept in ``extra`` and written back by :meth:`to_dict`.

Models are frozen dataclasses: equal when every field is equal, hashable on their plain fields.

Every command line run imports the models, the report rows and ``Changes``, so these are made by
:func:`frozen_dataclass` rather than by ``@dataclasses.dataclass(frozen=True)``: the decorator compiles an
``__init__``, ``__setattr__`` and ``__delattr__`` (and a ``__repr__``, ``__eq__``, ``__hash__``) from source
text for every class at each import, about 0.3 ms per class. Here the field bookkeeping is still the
decorator's, while the frozen ``__setattr__``/``__delattr__``, the comparisons and the repr are written once
in :class:`ByFieldValues`, and each class writes its ``__init__`` out by hand: plain assignments of its
parameters, in field order, which the bytecode cache keeps compiled.
"""

from __future__ import annotations

import dataclasses
import datetime
import operator
import reprlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from pymesync.errors import UnexpectedResponse

__all__ = ["Activity", "Model", "Project", "ProjectRole", "Time", "User"]

_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})
#: Fields a client must never keep, even when a misbehaving server sends them.
_SECRET_FIELDS = frozenset({"password"})

T = TypeVar("T")
M = TypeVar("M", bound="Model")


def _no_extra() -> Mapping[str, Any]:
    return _NO_EXTRA


def _bad(kind: str, field: str, expected: str) -> UnexpectedResponse:
    return UnexpectedResponse(f"{kind} from server has {field} that is not {expected}")


def _read_date(value: object, kind: str, field: str) -> datetime.date | None:
    """A ``YYYY-MM-DD`` string (a time part is ignored), epoch milliseconds (``POST /users``), or None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value[:10])
        except ValueError:
            raise _bad(kind, field, "a date") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.datetime.fromtimestamp(value / 1000, datetime.timezone.utc).date()
        except (OverflowError, OSError, ValueError):
            raise _bad(kind, field, "a date") from None
    raise _bad(kind, field, "a date")


def _write_date(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _read_str(value: object, kind: str, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _bad(kind, field, "a string")


def _read_int(value: object, kind: str, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise _bad(kind, field, "an integer")
    return int(value)


def _read_bool(value: object, kind: str, field: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if value in (0, 1):  # SQLite-backed servers may leak 0/1
        return bool(value)
    raise _bad(kind, field, "a boolean")


def _read_slugs(value: object, kind: str, field: str) -> tuple[str, ...]:
    """A list of strings; a single string (the create echo of a time's project) counts as one."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise _bad(kind, field, "a list of slugs")


class ByFieldValues:
    """What ``@dataclasses.dataclass(frozen=True)`` would compile for each class, written once for those
    :func:`frozen_dataclass` makes (and used by frozen dataclasses declared with ``eq=False``).

    The same methods as the generated ones: equal when of the same class with every field equal; the hash
    of every field not marked ``hash=False``; the dataclass repr (the models have their own); assigning or
    deleting an attribute raises :class:`dataclasses.FrozenInstanceError` (on an instance of a plain
    subclass, only for the fields: it may keep attributes of its own).
    """

    __slots__ = ()
    #: set on each class by the dataclass decorator (declared here for type checkers)
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        compared = _compared(self.__class__)[0]
        return bool(compared(self) == compared(other))

    def __hash__(self) -> int:
        return hash(_compared(self.__class__)[1](self))

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        shown = (f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.repr)
        return f"{self.__class__.__qualname__}({', '.join(shown)})"

    if not TYPE_CHECKING:  # type checkers know the fields are frozen, and still flag attributes that are not

        def __setattr__(self, name: str, value: object) -> None:
            if _frozen(self, name):
                raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
            super().__setattr__(name, value)

        def __delattr__(self, name: str) -> None:
            if _frozen(self, name):
                raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
            super().__delattr__(name)


def _frozen(instance: ByFieldValues, name: str) -> bool:
    """Any attribute of an instance of a class :func:`frozen_dataclass` made; a field of a subclass's."""
    cls = type(instance)
    return "__dataclass_fields__" in vars(cls) or any(f.name == name for f in dataclasses.fields(cls))


#: per class: the values its equality compares and those its hash reads, as tuples in field order
_COMPARED: dict[type, tuple[Callable[[object], tuple[Any, ...]], Callable[[object], tuple[Any, ...]]]] = {}


def _values(names: list[str]) -> Callable[[object], tuple[Any, ...]]:
    if len(names) > 1:
        return operator.attrgetter(*names)
    return lambda obj: tuple(getattr(obj, name) for name in names)


def _compared(cls: type) -> tuple[Callable[[object], tuple[Any, ...]], Callable[[object], tuple[Any, ...]]]:
    found = _COMPARED.get(cls)
    if found is None:
        fields = dataclasses.fields(cls)
        compared = [f.name for f in fields if f.compare]
        hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
        found = _COMPARED[cls] = (_values(compared), _values(hashed))
    return found


if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:  # only type checkers read it (typing has it from Python 3.11 on; typing_extensions is no dependency)

    def dataclass_transform(**_: object) -> Callable[[T], T]:
        return lambda decorator: decorator


#: How a hand-written ``__init__`` sets a field of its (frozen) instance, as a generated one does.
set_field = object.__setattr__
#: The default a generated ``__init__`` gives a field that has a default factory (``<factory>`` in its
#: signature); a hand-written one uses it too, so that its signature stays the dataclass's.
FACTORY: Any = vars(dataclasses)["_HAS_DEFAULT_FACTORY"]


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def frozen_dataclass(*, slots: bool = False) -> Callable[[type[T]], type[T]]:
    """``@dataclasses.dataclass(frozen=True, eq=False, slots=slots)`` for a :class:`ByFieldValues` class
    that writes its own ``__init__`` (why: the module docstring): to users and type checkers, a frozen
    dataclass like any other.

    The decorator keeps the field bookkeeping (``fields``, ``asdict``, ``replace``, ``__match_args__``);
    :class:`ByFieldValues` has the methods it would have compiled.
    """

    def make(cls: type[T]) -> type[T]:
        if not issubclass(cls, ByFieldValues) or "__init__" not in vars(cls):
            raise TypeError(f"{cls.__name__}: frozen_dataclass is for ByFieldValues classes with an __init__")
        made: Any = dataclasses.dataclass(cls, init=False, repr=False, eq=False, slots=slots)
        # what dataclasses reads of a base class, so that dataclass subclasses are as of a frozen one
        made.__dataclass_params__.frozen = True
        # a generated __init__ is annotated with None itself, not the string postponed annotations make
        made.__init__.__annotations__["return"] = None
        if slots:  # pickled as dataclasses pickles a frozen class with slots: the field values in order
            made.__getstate__ = _field_values
            made.__setstate__ = _set_field_values
        return cast("type[T]", made)

    return make


def _field_values(instance: ByFieldValues) -> list[Any]:
    return [getattr(instance, f.name) for f in dataclasses.fields(instance)]


def _set_field_values(instance: ByFieldValues, values: list[Any]) -> None:
    for f, value in zip(dataclasses.fields(instance), values, strict=False):
        set_field(instance, f.name, value)


@frozen_dataclass(slots=True)
class ProjectRole(ByFieldValues):
    """A user's flags on one project: ``member`` logs time, ``spectator`` sees times, ``manager`` edits."""

    member: bool = False
    spectator: bool = False
    manager: bool = False

    def __init__(self, member: bool = False, spectator: bool = False, manager: bool = False) -> None:
        set_field(self, "member", member)
        set_field(self, "spectator", spectator)
        set_field(self, "manager", manager)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProjectRole:
        return cls(
            member=_read_bool(data.get("member"), "project role", "member"),
            spectator=_read_bool(data.get("spectator"), "project role", "spectator"),
            manager=_read_bool(data.get("manager"), "project role", "manager"),
        )

    def to_dict(self) -> dict[str, bool]:
        return {"member": self.member, "spectator": self.spectator, "manager": self.manager}


def _read_users(value: object) -> Mapping[str, ProjectRole]:
    if value is None:
        return _NO_EXTRA
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise _bad("project", "users", "a map of roles")
    return MappingProxyType({str(name): ProjectRole.from_dict(flags) for name, flags in value.items()})


class Model(ByFieldValues):
    """Shared behaviour: reading the wire form, writing it back, a short repr; equality, hashing and
    frozenness from :class:`ByFieldValues` (the models are made by :func:`frozen_dataclass`)."""

    KIND: ClassVar[str] = "object"
    #: wire key → reader; keys not listed here (and not ``parents``) go to ``extra``.
    _READERS: ClassVar[Mapping[str, Callable[[object, str, str], object]]] = {}

    @classmethod
    def from_dict(cls: type[M], data: Mapping[str, Any]) -> M:
        """Build from a JSON object as the server sends it; unknown keys land in ``extra``."""
        if not isinstance(data, Mapping):
            raise UnexpectedResponse(f"{cls.KIND} from server is not a JSON object")
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            reader = cls._READERS.get(key)
            if reader is not None:
                values[key] = reader(value, cls.KIND, key)
            elif key == "parents" and "parents" in cls.__dataclass_fields__:
                values["parents"] = cls._read_parents(value)
            elif key not in _SECRET_FIELDS:
                extra[key] = value
        values["extra"] = MappingProxyType(extra) if extra else _NO_EXTRA
        return cls(**values)

    @classmethod
    def _read_parents(cls: type[M], value: object) -> tuple[M, ...] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            raise _bad(cls.KIND, "parents", "a list")
        return tuple(cls.from_dict(item) for item in value)

    def to_dict(self) -> dict[str, Any]:
        """The wire form: dates as ``YYYY-MM-DD``, tuples as lists, plus every ``extra`` field."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra":
                continue
            if f.name == "parents":
                if value is not None:
                    out["parents"] = [parent.to_dict() for parent in value]
            elif isinstance(value, datetime.date):
                out[f.name] = _write_date(value)
            elif isinstance(value, tuple):
                out[f.name] = list(value)
            else:
                out[f.name] = value
        out.update(getattr(self, "extra", _NO_EXTRA))
        return out

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or value == () or (f.name == "extra" and not value):
                continue
            if f.name == "parents":
                shown.append(f"parents=<{len(value)}>")
            elif isinstance(value, Mapping):
                shown.append(f"{f.name}={dict(value)!r}")
            else:
                shown.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


_COMMON_DATES: dict[str, Callable[[object, str, str], object]] = {
    "created_at": _read_date,
    "updated_at": _read_date,
    "deleted_at": _read_date,
}


def _read_duration(value: object, kind: str, field: str) -> int:
    seconds = _read_int(value, kind, field)
    return 0 if seconds is None else seconds


@frozen_dataclass()
class Time(Model):
    """One revision of a time entry.

    ``project`` holds the project's slugs (all of them, sorted, when read back; the one slug sent in the echo
    of a create). ``activities`` is empty in a create echo when the project's default activity was used.
    """

    KIND: ClassVar[str] = "time"
    _READERS: ClassVar[Mapping[str, Callable[[object, str, str], object]]] = {
        "uuid": _read_str,
        "revision": _read_int,
        "duration": _read_duration,
        "user": _read_str,
        "project": _read_slugs,
        "activities": _read_slugs,
        "date_worked": _read_date,
        "notes": _read_str,
        "issue_uri": _read_str,
        **_COMMON_DATES,
    }

    uuid: str | None = None
    revision: int | None = None
    duration: int = 0
    user: str | None = None
    project: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()
    date_worked: datetime.date | None = None
    notes: str | None = None
    issue_uri: str | None = None
    created_at: datetime.date | None = None
    updated_at: datetime.date | None = None
    deleted_at: datetime.date | None = None
    parents: tuple[Time, ...] | None = dataclasses.field(default=None, hash=False)
    extra: Mapping[str, Any] = dataclasses.field(default_factory=_no_extra, hash=False)

    def __init__(
        self,
        uuid: str | None = None,
        revision: int | None = None,
        duration: int = 0,
        user: str | None = None,
        project: tuple[str, ...] = (),
        activities: tuple[str, ...] = (),
        date_worked: datetime.date | None = None,
        notes: str | None = None,
        issue_uri: str | None = None,
        created_at: datetime.date | None = None,
        updated_at: datetime.date | None = None,
        deleted_at: datetime.date | None = None,
        parents: tuple[Time, ...] | None = None,
        extra: Mapping[str, Any] = FACTORY,
    ) -> None:
        set_field(self, "uuid", uuid)
        set_field(self, "revision", revision)
        set_field(self, "duration", duration)
        set_field(self, "user", user)
        set_field(self, "project", project)
        set_field(self, "activities", activities)
        set_field(self, "date_worked", date_worked)
        set_field(self, "notes", notes)
        set_field(self, "issue_uri", issue_uri)
        set_field(self, "created_at", created_at)
        set_field(self, "updated_at", updated_at)
        set_field(self, "deleted_at", deleted_at)
        set_field(self, "parents", parents)
        set_field(self, "extra", _no_extra() if extra is FACTORY else extra)

    @property
    def duration_timedelta(self) -> datetime.timedelta:
        return datetime.timedelta(seconds=self.duration)


@frozen_dataclass()
class Project(Model):
    """One revision of a project. ``users`` maps usernames to their :class:`ProjectRole`."""

    KIND: ClassVar[str] = "project"
    _READERS: ClassVar[Mapping[str, Callable[[object, str, str], object]]] = {
        "uuid": _read_str,
        "revision": _read_int,
        "name": _read_str,
        "slugs": _read_slugs,
        "uri": _read_str,
        "default_activity": _read_str,
        "users": lambda value, kind, field: _read_users(value),
        **_COMMON_DATES,
    }

    uuid: str | None = None
    revision: int | None = None
    name: str | None = None
    slugs: tuple[str, ...] = ()
    uri: str | None = None
    default_activity: str | None = None
    users: Mapping[str, ProjectRole] = dataclasses.field(default_factory=_no_extra, hash=False)
    created_at: datetime.date | None = None
    updated_at: datetime.date | None = None
    deleted_at: datetime.date | None = None
    parents: tuple[Project, ...] | None = dataclasses.field(default=None, hash=False)
    extra: Mapping[str, Any] = dataclasses.field(default_factory=_no_extra, hash=False)

    def __init__(
        self,
        uuid: str | None = None,
        revision: int | None = None,
        name: str | None = None,
        slugs: tuple[str, ...] = (),
        uri: str | None = None,
        default_activity: str | None = None,
        users: Mapping[str, ProjectRole] = FACTORY,
        created_at: datetime.date | None = None,
        updated_at: datetime.date | None = None,
        deleted_at: datetime.date | None = None,
        parents: tuple[Project, ...] | None = None,
        extra: Mapping[str, Any] = FACTORY,
    ) -> None:
        set_field(self, "uuid", uuid)
        set_field(self, "revision", revision)
        set_field(self, "name", name)
        set_field(self, "slugs", slugs)
        set_field(self, "uri", uri)
        set_field(self, "default_activity", default_activity)
        set_field(self, "users", _no_extra() if users is FACTORY else users)
        set_field(self, "created_at", created_at)
        set_field(self, "updated_at", updated_at)
        set_field(self, "deleted_at", deleted_at)
        set_field(self, "parents", parents)
        set_field(self, "extra", _no_extra() if extra is FACTORY else extra)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.users:
            out["users"] = {name: role.to_dict() for name, role in self.users.items()}
        else:
            del out["users"]  # the server omits the key for a project without members
        return out


@frozen_dataclass()
class Activity(Model):
    """One revision of an activity; ``slug`` is ``None`` once the activity is deleted."""

    KIND: ClassVar[str] = "activity"
    _READERS: ClassVar[Mapping[str, Callable[[object, str, str], object]]] = {
        "uuid": _read_str,
        "revision": _read_int,
        "name": _read_str,
        "slug": _read_str,
        **_COMMON_DATES,
    }

    uuid: str | None = None
    revision: int | None = None
    name: str | None = None
    slug: str | None = None
    created_at: datetime.date | None = None
    updated_at: datetime.date | None = None
    deleted_at: datetime.date | None = None
    parents: tuple[Activity, ...] | None = dataclasses.field(default=None, hash=False)
    extra: Mapping[str, Any] = dataclasses.field(default_factory=_no_extra, hash=False)

    def __init__(
        self,
        uuid: str | None = None,
        revision: int | None = None,
        name: str | None = None,
        slug: str | None = None,
        created_at: datetime.date | None = None,
        updated_at: datetime.date | None = None,
        deleted_at: datetime.date | None = None,
        parents: tuple[Activity, ...] | None = None,
        extra: Mapping[str, Any] = FACTORY,
    ) -> None:
        set_field(self, "uuid", uuid)
        set_field(self, "revision", revision)
        set_field(self, "name", name)
        set_field(self, "slug", slug)
        set_field(self, "created_at", created_at)
        set_field(self, "updated_at", updated_at)
        set_field(self, "deleted_at", deleted_at)
        set_field(self, "parents", parents)
        set_field(self, "extra", _no_extra() if extra is FACTORY else extra)


@frozen_dataclass()
class User(Model):
    """A user (updated in place, so no revisions). There is no password field: the server never sends it."""

    KIND: ClassVar[str] = "user"
    _READERS: ClassVar[Mapping[str, Callable[[object, str, str], object]]] = {
        "username": _read_str,
        "display_name": _read_str,
        "email": _read_str,
        "meta": _read_str,
        "site_admin": _read_bool,
        "site_manager": _read_bool,
        "site_spectator": _read_bool,
        "active": _read_bool,
        **_COMMON_DATES,
    }

    username: str | None = None
    display_name: str | None = None
    email: str | None = None
    meta: str | None = None
    site_admin: bool = False
    site_manager: bool = False
    site_spectator: bool = False
    active: bool = True
    created_at: datetime.date | None = None
    updated_at: datetime.date | None = None
    deleted_at: datetime.date | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=_no_extra, hash=False)

    def __init__(
        self,
        username: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        meta: str | None = None,
        site_admin: bool = False,
        site_manager: bool = False,
        site_spectator: bool = False,
        active: bool = True,
        created_at: datetime.date | None = None,
        updated_at: datetime.date | None = None,
        deleted_at: datetime.date | None = None,
        extra: Mapping[str, Any] = FACTORY,
    ) -> None:
        set_field(self, "username", username)
        set_field(self, "display_name", display_name)
        set_field(self, "email", email)
        set_field(self, "meta", meta)
        set_field(self, "site_admin", site_admin)
        set_field(self, "site_manager", site_manager)
        set_field(self, "site_spectator", site_spectator)
        set_field(self, "active", active)
        set_field(self, "created_at", created_at)
        set_field(self, "updated_at", updated_at)
        set_field(self, "deleted_at", deleted_at)
        set_field(self, "extra", _no_extra() if extra is FACTORY else extra)
