"""Typed, validated stage parameters.

Each stage declares its parameters as a frozen dataclass deriving from
:class:`StageParams`; the field's type hint is its type, the default is the value of
the default profile, and the ``doc`` metadata says what it means. papermill only warns
on unknown parameters, so every value that reaches a stage goes through
:meth:`StageParams.from_dict`, which names the offending parameter.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Literal, Union, get_args, get_origin

import yaml

from nap.errors import NapError


class ParamError(NapError, ValueError):
    """A parameter is unknown or has a value of the wrong type."""


#: Seeds go to numpy, torch and scikit-learn; the last takes 0 .. 2**32 - 1.
SEED_LIMIT = 2**32


def param(default: Any, doc: str, keyed: bool = True, finite: bool = True, decoding: bool = False) -> Any:
    """A dataclass field with a default and a one-line description.

    ``keyed=False`` marks a setting of the machine rather than of the result (threads, device):
    it is left out of the artifact key, so changing it reuses or resumes the same artifact.
    ``decoding=True`` marks a parameter that changes only how a trained network is decoded: it
    is in the key, but a build may take the training from an artifact that differs from it
    in such parameters alone (:meth:`nap.store.Store.kin`).
    ``finite=False`` lets the value (or a number inside it) be NaN or infinite; every other
    parameter refuses them, as a NaN passes every range check (``nan <= 0`` is false).
    """
    meta = {"doc": doc, "keyed": keyed, "finite": finite, "decoding": decoding}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def check_threads(value: int | str, name: str) -> None:
    """A thread or process count is ``auto`` (the machine's cores) or at least 1."""
    if value != "auto" and (not isinstance(value, int) or value < 1):
        raise ParamError(f"parameter {name!r} must be auto or at least 1, got {value!r}")


def check_seed(value: int, name: str) -> None:
    """A seed is an integer in 0 .. 2**32 - 1 (numpy refuses negative seeds, scikit-learn larger ones)."""
    if not 0 <= value < SEED_LIMIT:
        raise ParamError(f"parameter {name!r} must be >= 0 (and below 2**32), got {value}")


# -- YAML as a user writes it ------------------------------------------------------------------
#: Floats of YAML 1.2 as well as 1.1: PyYAML's YAML 1.1 resolver reads ``1e-3``, ``1E3`` and
#: ``-.5`` as strings (it wants a dot and a signed exponent); this one reads them as floats.
_FLOAT = re.compile(
    r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)
_FLOAT_TAG = "tag:yaml.org,2002:float"


class ParamLoader(yaml.SafeLoader):
    """PyYAML's safe loader with :data:`_FLOAT` as its float resolver; every YAML of user
    parameters (profiles, ``--params`` files, ``-p`` values) is read with it."""


ParamLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _FLOAT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ParamLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: the problem and where it is."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def load_yaml(text: str, what: str) -> Any:
    """The one YAML document in ``text`` (None if empty); ``what`` names it in the error."""
    try:
        docs = list(yaml.load_all(text, Loader=ParamLoader))
    except yaml.YAMLError as exc:
        raise ParamError(f"{what} is not valid YAML: {_yaml_problem(exc)}") from exc
    if len(docs) > 1:
        raise ParamError(f"{what} holds {len(docs)} YAML documents (separated by '---'); expected one")
    return docs[0] if docs else None


def read_yaml(path: Path, what: str) -> Any:
    """The YAML document in file ``path``, with an error naming ``what`` and the file when it
    is missing, unreadable, not UTF-8 or not YAML."""
    where = f"{what} {path}"
    if not path.exists():
        raise ParamError(f"{where} does not exist")
    if not path.is_file():
        raise ParamError(f"{where} is not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParamError(f"{where} cannot be read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParamError(
            f"{where} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8"
        ) from exc
    return load_yaml(text, where)


def parse_value(text: str) -> Any:
    """A value typed on a command line, read as YAML: ``3``, ``1e-3``, ``true``, ``'[9, 10]'``;
    text that is not YAML stays text."""
    try:
        return yaml.load(text, Loader=ParamLoader)
    except yaml.YAMLError:
        return text


def add_change_arguments(parser: argparse.ArgumentParser) -> None:
    """``-p/--param NAME VALUE`` (repeatable) and ``--params FILE.yaml``: how every command line
    of nap (``nap``, ``python -m nap.asr``, ``python -m nap.naps``) takes parameter changes."""
    parser.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="change a parameter (VALUE is YAML): 'asr.epochs 3', 'naps.layers \"[layer09, layer10]\"', "
        "'seed 1'",
    )
    parser.add_argument(
        "--params", dest="params_file", metavar="FILE.yaml", help="YAML file of parameter changes"
    )


def read_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The changes :func:`add_change_arguments` read: the ``--params`` file's, then the ``-p`` ones."""
    changes: dict[str, Any] = {}
    if getattr(args, "params_file", None):
        path = Path(args.params_file)
        loaded = read_yaml(path, "parameter file") or {}
        if not isinstance(loaded, dict):
            raise ParamError(f"parameter file {path}: expected a mapping of parameter names to values")
        changes.update(loaded)
    for name, value in getattr(args, "param", None) or []:
        changes[name] = parse_value(value)
    return changes


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in get_args(tp))
        return f"{origin.__name__}[{args}]"
    return "None" if tp is type(None) else getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, name: str, finite: bool = True) -> Any:
    """Return ``value`` as type ``tp`` (ints widen to floats, tuples to lists) or raise.

    NaN and infinities, also inside lists and mappings, are refused unless ``finite`` is false.
    """
    if finite and isinstance(value, float) and not math.isfinite(value):
        raise ParamError(f"parameter {name!r} must be a finite number, got {value}")
    origin = get_origin(tp)
    bad = ParamError(f"parameter {name!r}: expected {_type_name(tp)}, got {value!r}")
    if tp is Any:
        return value
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise bad
    if origin in (Union, types.UnionType):
        inner: ParamError | None = None
        for arg in get_args(tp):
            try:
                return coerce(value, arg, name, finite)
            except ParamError as exc:
                # an error inside a container of the right kind says more than the union's
                if get_origin(arg) in (list, tuple, dict) and isinstance(value, (list, tuple, dict)):
                    inner = inner or exc
        raise inner or bad
    if tp is type(None):
        if value is None:
            return None
        raise bad
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise bad
        (item_tp, *_) = get_args(tp) or (Any,)
        return [coerce(v, item_tp, f"{name}[{i}]", finite) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        key_tp, val_tp = get_args(tp) or (Any, Any)
        return {
            coerce(k, key_tp, name, finite): coerce(v, val_tp, f"{name}[{k!r}]", finite)
            for k, v in value.items()
        }
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    raise ParamError(f"parameter {name!r}: unsupported type {tp!r}")


@dataclasses.dataclass(frozen=True)
class StageParams:
    """Base class of every stage's parameters."""

    stage: ClassVar[str] = ""

    @classmethod
    def fields(cls) -> dict[str, dataclasses.Field]:
        return {f.name: f for f in dataclasses.fields(cls)}

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None = None) -> StageParams:
        """Validate ``values``: unknown names, wrong types, NaN and infinities (unless the field
        allows them) and seeds outside 0 .. 2**32 - 1 raise ParamError naming the parameter."""
        values = dict(values or {})
        fields = cls.fields()
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(values) - set(fields))
        if unknown:
            near = [m for u in unknown for m in difflib.get_close_matches(u, fields, n=1)]
            hint = f" (did you mean {', '.join(f'{cls.stage}.{m}' for m in near)}?)" if near else ""
            raise ParamError(
                f"unknown parameter(s) {', '.join(f'{cls.stage}.{u}' for u in unknown)}{hint}; "
                f"{cls.stage} takes: {', '.join(fields)}"
            )
        clean = {
            k: coerce(v, hints[k], f"{cls.stage}.{k}", fields[k].metadata.get("finite", True))
            for k, v in values.items()
        }
        obj = cls(**clean)
        if "seed" in fields:
            check_seed(obj.seed, f"{cls.stage}.seed")  # type: ignore[attr-defined]
        obj.check()
        return obj

    def check(self) -> None:
        """Cross-field checks; override and raise ParamError naming the parameter."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def key_dict(self) -> dict[str, Any]:
        """The parameters that make the artifact key (machine settings, ``keyed=False``, left out)."""
        unkeyed = {f.name for f in dataclasses.fields(self) if not f.metadata.get("keyed", True)}
        return {k: v for k, v in self.to_dict().items() if k not in unkeyed}

    @classmethod
    def decoding_params(cls) -> tuple[str, ...]:
        """The parameters marked ``decoding=True`` (see :func:`param`), in field order."""
        return tuple(name for name, f in cls.fields().items() if f.metadata.get("decoding", False))

    def replace(self, **changes: Any) -> StageParams:
        return type(self).from_dict({**self.to_dict(), **changes})

    @classmethod
    def describe(cls) -> list[tuple[str, str, Any, str]]:
        """(name, type, default, doc) for every parameter, for tables and the README."""
        hints = typing.get_type_hints(cls)
        rows = []
        for name, f in cls.fields().items():
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            rows.append((name, _type_name(hints[name]), default, f.metadata.get("doc", "")))
        return rows
