"""Each TOML key is declared once: on the settings field that holds its value.

``setting(default, kind)`` (or ``field(metadata=key(kind))`` for a field without a default)
makes a field a key: the field's name is the key as written in TOML (unless ``name=`` says
otherwise), ``kind`` says how its value is checked, ``required`` that a table must write it,
``restart`` that a running daemon only applies it at start. ``group(Cls)`` nests a group of
keys that TOML writes flat in the same table (``[monitor] connect_timeout`` is
``config.monitor.fetch.connect_timeout``). The tables of accepted keys (``keys_of``) and
the settings objects (``build``) are derived from these declarations. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from monitor.config.secrets import Secret
from monitor.config.spikes import Spike, parse_spike

T = TypeVar("T")

DURATION = "duration"  # 30s, 10m, 1h30m or seconds; a float
AGE = "age"  # a duration, or "off"/0 (0.0): how old an item may be and still alert
CRON = "cron"  # a crontab line, 5 fields or 6 with seconds first
SECRET = "secret"  # NAME_file or NAME_env: a Secret, never the value inline
SPIKE = "spike"  # a rule's spike test, a table (``monitor.config.spikes``)


@dataclass(frozen=True, slots=True)
class Key:
    """How one key is written and checked."""

    kind: object  # str, int, bool, list, DURATION, AGE, CRON, SECRET or SPIKE
    name: str = ""  # the key when it is not the field's name (a SECRET: the stem of its keys)
    required: bool = False
    restart: bool = False


def key(kind: object, *, name: str = "", required: bool = False,
        restart: bool = False) -> dict[str, Key]:
    """Field metadata declaring a key (for fields without a default)."""
    return {"key": Key(kind, name, required, restart)}


def setting(default: T, kind: object, *, name: str = "", required: bool = False,
            restart: bool = False, repr: bool = True) -> T:  # noqa: A002 - as in field()
    """A dataclass field that is a key, with its default."""
    return field(default=default, repr=repr,
                 metadata=key(kind, name=name, required=required, restart=restart))


def group(cls: type[T]) -> T:
    """A dataclass field holding a group of keys written flat in the enclosing table."""
    return field(default_factory=cls, metadata={"group": cls})


@dataclass(frozen=True, slots=True)
class Declared:
    """One declared key and where its value lives in the settings object."""

    name: str  # as written in TOML (a SECRET: the stem, as in NAME_file)
    path: tuple[str, ...]  # attributes from the settings object to the value
    key: Key

    @property
    def written(self) -> tuple[str, ...]:
        """The keys a table may write for it."""
        if self.key.kind == SECRET:
            return f"{self.name}_file", f"{self.name}_env"
        return (self.name,)


def declared(cls: type) -> list[Declared]:
    """Every key ``cls`` declares, groups included, in declaration order."""
    out = []
    for f in fields(cls):
        if "group" in f.metadata:
            inner = declared(f.metadata["group"])
            out += [Declared(d.name, (f.name, *d.path), d.key) for d in inner]
        elif "key" in f.metadata:
            out.append(Declared(f.metadata["key"].name or f.name, (f.name,), f.metadata["key"]))
    return out


def keys_of(cls: type) -> dict[str, object]:
    """Each key a table of ``cls`` accepts -> its kind (a secret's two keys are strings)."""
    return {written: str if d.key.kind == SECRET else d.key.kind
            for d in declared(cls) for written in d.written}


def required_of(cls: type) -> tuple[str, ...]:
    """The keys a table of ``cls`` must write."""
    return tuple(d.name for d in declared(cls) if d.key.required)


def lookup(settings: object, name: str) -> Any:
    """The value of the key ``name`` (as ``declared`` names it) in ``settings``."""
    found = next(d for d in declared(type(settings)) if d.name == name)
    value = settings
    for attr in found.path:
        value = getattr(value, attr)
    return value


def build(cls: type[T], values: Mapping[str, Any], *, folder: Path = Path(),
          read: Callable[[Secret], object] = lambda s: s,
          defaults: Mapping[str, Any] | None = None, **fixed: Any) -> T:
    """``cls`` from checked values by key: a key written wins over ``defaults`` (by field
    name), which win over the class's defaults; ``fixed`` fields win over all.

    A secret becomes a ``Secret`` (its file taken relative to ``folder``, the folder of the
    file that names it) and then ``read(secret)``: by default the reference, never the value.
    """
    kwargs: dict[str, Any] = {**(defaults or {}), **fixed}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in fixed:
            continue
        if "group" in f.metadata:
            kwargs[f.name] = build(f.metadata["group"], values, folder=folder, read=read)
            continue
        if "key" not in f.metadata:
            continue
        k: Key = f.metadata["key"]
        name = k.name or f.name
        if k.kind == SECRET:
            file, env = values.get(f"{name}_file"), values.get(f"{name}_env")
            if file is not None or env is not None:
                kwargs[f.name] = read(Secret(name, None if file is None else str(folder / file),
                                             env))
        elif name in values:
            value = values[name]
            if k.kind == SPIKE:  # a table as stored (JSON) or already checked
                value = parse_spike(value)
            kwargs[f.name] = tuple(str(v) for v in value) if k.kind is list else value
    return cls(**kwargs)


def written(settings: object) -> dict[str, Any]:
    """The keys of ``settings`` whose values differ from their defaults, as a table would
    write them: lists as lists, a secret by where it is (never its value)."""
    out: dict[str, Any] = {}
    for f in fields(settings):  # type: ignore[arg-type]
        if "key" not in f.metadata:
            continue
        k: Key = f.metadata["key"]
        name, value = k.name or f.name, getattr(settings, f.name)
        if isinstance(value, Secret):
            out.update({f"{name}_file": value.file, f"{name}_env": value.env})
        elif isinstance(value, Spike):
            out[name] = value.written()
        elif value != f.default:
            out[name] = list(value) if isinstance(value, tuple) else value
    return {k: v for k, v in out.items() if v is not None}
