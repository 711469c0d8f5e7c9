"""Typed parameters: a component's ``Config`` dataclass as CLI flags and YAML keys.

Fields carry their help text and range in ``dataclasses.field`` metadata
(see :func:`param`). Values from YAML and from flags go through the same
coercion and checks, so a bad value gives one message naming the flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from typing import Any, Literal, get_args, get_origin

from hippo_bench.errors import UserError


def param(default: Any, help: str = "", *, min: float | None = None, max: float | None = None,
          choices: typing.Sequence[Any] | None = None):
    """A Config field with help text and an allowed range or set of values."""
    meta = {"help": help, "min": min, "max": max, "choices": tuple(choices) if choices else None}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    name: str
    type: Any
    default: Any
    help: str
    min: float | None
    max: float | None
    choices: tuple | None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def fields_of(config_cls: type) -> list[FieldSpec]:
    hints = typing.get_type_hints(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        md = f.metadata or {}
        choices = md.get("choices")
        tp = hints[f.name]
        if get_origin(tp) is Literal:
            choices = get_args(tp)
        out.append(FieldSpec(f.name, tp, default, md.get("help", ""), md.get("min"), md.get("max"), choices))
    return out


def _parse_bool(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    s = str(text).strip().lower()
    if s in {"1", "true", "yes", "on"}:
        return True
    if s in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0], True
    return tp, False


def coerce(spec: FieldSpec, value: Any, where: str) -> Any:
    """Convert ``value`` (from YAML or a flag) to the field's type and check it."""
    tp, optional = _strip_optional(spec.type)
    try:
        if value is None or (optional and isinstance(value, str) and value.lower() in {"none", "null"}):
            if optional or spec.default is None:
                return None
            raise ValueError("a value is required")
        origin = get_origin(tp)
        if origin is Literal:
            choices = get_args(tp)
            matched = [c for c in choices if str(c) == str(value)]
            if not matched:
                raise ValueError(f"expected one of {', '.join(map(str, choices))}, got {value!r}")
            result = matched[0]
        elif origin in (list, tuple):
            inner = get_args(tp)[0] if get_args(tp) else str
            items = value if isinstance(value, (list, tuple)) else str(value).replace(",", " ").split()
            inner_spec = dataclasses.replace(spec, type=inner, choices=None)
            result = [coerce(inner_spec, v, where) for v in items]
            result = tuple(result) if origin is tuple else result
        elif tp is bool:
            result = _parse_bool(value)
        elif tp is int:
            result = _to_int(value)
        elif tp is float:
            result = _to_float(value)
        elif tp is str:
            if isinstance(value, (dict, list)):
                raise ValueError(f"expected a string, got {value!r}")
            result = str(value)
        else:
            result = value
        if isinstance(result, (list, tuple)):
            for v in result:
                _check_range(spec, v)
        else:
            _check_range(spec, result)
        if spec.choices is not None and origin is not Literal and result not in spec.choices:
            raise ValueError(f"expected one of {', '.join(map(str, spec.choices))}, got {value!r}")
    except (TypeError, ValueError) as exc:
        raise UserError(f"{where}: {exc}") from None
    return result


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None


def _to_int(value: Any) -> int:
    """An integer from an int, an integral float, or text such as "3" or "1e3"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    try:
        f = _to_float(value)
    except ValueError:
        f = math.nan
    if not f.is_integer():
        raise ValueError(f"expected an integer, got {value!r}")
    return int(f)


def _check_range(spec: FieldSpec, v: Any) -> None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if v != v:  # NaN
            raise ValueError("NaN is not allowed")
        if spec.min is not None and v < spec.min:
            raise ValueError(f"must be >= {spec.min}, got {v}")
        if spec.max is not None and v > spec.max:
            raise ValueError(f"must be <= {spec.max}, got {v}")


def add_flags(parser: argparse.ArgumentParser | Any, config_cls: type, prefix: str = "",
              title: str | None = None) -> dict[str, FieldSpec]:
    """Add one flag per field (``--prefix-field-name``); returns dest -> spec.

    Flags are parsed as strings and coerced later, so a YAML value and a flag
    value pass the same checks. The defaults shown are the field defaults.
    """
    group = parser.add_argument_group(title) if title else parser
    dests = {}
    for spec in fields_of(config_cls):
        flag = "--" + (prefix + spec.name).replace("_", "-")
        dest = f"cfg__{prefix}{spec.name}"
        tp, _ = _strip_optional(spec.type)
        kwargs: dict[str, Any] = {"dest": dest, "default": argparse.SUPPRESS}
        if get_origin(tp) in (list, tuple):
            kwargs["nargs"] = "+"
        choices = f" {{{','.join(map(str, spec.choices))}}}" if spec.choices else ""
        rng = ""
        if spec.min is not None or spec.max is not None:
            rng = f" [{'' if spec.min is None else spec.min}..{'' if spec.max is None else spec.max}]"
        # argparse formats help with %: a literal one (as in "% active") must be doubled
        kwargs["help"] = f"{spec.help}{choices}{rng} (default: {spec.default})".strip().replace("%", "%%")
        kwargs["metavar"] = _metavar(tp)
        group.add_argument(flag, **kwargs)
        dests[dest] = dataclasses.replace(spec)
    return dests


def _metavar(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "{" + ",".join(map(str, get_args(tp))) + "}"
    if origin in (list, tuple):
        return _metavar(get_args(tp)[0]) if get_args(tp) else "X"
    return {int: "INT", float: "FLOAT", bool: "BOOL", str: "STR"}.get(tp, "VALUE")


def build_config(config_cls: type, *layers: tuple[str, dict[str, Any]], flag_prefix: str = "") -> Any:
    """Make a Config from defaults overlaid by each (source, values) layer in order.

    Unknown keys are rejected with the known ones listed; each value is
    coerced and checked, naming the flag (or YAML key) on error.
    """
    specs = {s.name: s for s in fields_of(config_cls)}
    values: dict[str, Any] = {}
    for source, layer in layers:
        for key, value in (layer or {}).items():
            name = key.replace("-", "_")
            if name not in specs:
                known = ", ".join(sorted(specs)) or "(none)"
                raise UserError(f"{source}: unknown key {key!r} for {config_cls.__qualname__.split('.')[0]}; known: {known}")
            where = ("--" + (flag_prefix + name).replace("_", "-")) if source == "flags" else f"{source}: {key}"
            values[name] = coerce(specs[name], value, where)
    try:
        return config_cls(**values)
    except (TypeError, ValueError) as exc:
        raise UserError(f"invalid parameters for {config_cls.__qualname__}: {exc}") from None


def as_dict(config: Any) -> dict[str, Any]:
    """Plain, JSON-ready dict of a Config (tuples become lists)."""
    out = {}
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out
