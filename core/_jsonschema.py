"""JSON Schemas generated from type annotations, so validation and ``rpc.discover`` share one source.

Supported: ``int``, ``float``, ``str``, ``bool``, ``None``, ``datetime``, ``Any``, ``Literal``,
``list[X]``, ``dict[str, X]``, unions (``X | None``), ``Unset`` (dropped: it means "not given"),
and attrs classes (an object with their fields; a field with a default is optional). Per-field
constraints come from ``attrs.field(metadata={"schema": {...}})``.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from functools import cache
from typing import Any, Literal, Union

import attrs


class Unset:
    """The type of ``UNSET``: a parameter the caller did not give (distinct from an explicit null)."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET = Unset()


def constraints(**schema: Any) -> dict[str, Any]:
    """Field metadata carrying extra JSON Schema keywords: ``attrs.field(metadata=constraints(...))``."""
    return {"schema": schema}


def unbounded(schema: dict[str, Any], path: str = "params", inherited: frozenset[str] = frozenset()) -> list[str]:
    """The places in a params schema where a client could send an unbounded value.

    Every integer and number needs ``minimum`` and ``maximum``, every free string ``maxLength``,
    every array ``maxItems``: the bounds the validation enforces are the ones ``rpc.discover`` shows.
    """
    found: list[str] = []
    here = inherited | set(schema)
    kinds = schema.get("type")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds or ())
    if kinds & {"integer", "number"} and not {"minimum", "maximum"} <= here:
        found.append(f"{path}: a number without minimum and maximum")
    if "string" in kinds and "enum" not in here and "maxLength" not in here:
        found.append(f"{path}: a string without maxLength")
    if "array" in kinds and "maxItems" not in here:
        found.append(f"{path}: an array without maxItems")
    for member in schema.get("anyOf", ()):
        found += unbounded(member, path, frozenset(here - {"type", "anyOf"}))
    for name, prop in schema.get("properties", {}).items():
        found += unbounded(prop, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found += unbounded(schema["items"], f"{path}[]")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        found += unbounded(extra, f"{path}.*")
    return found


def schema_for(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a type annotation."""
    return _schema(tp)


def _schema(tp: Any) -> dict[str, Any]:
    if tp is Any:
        return {}
    if tp is type(None) or tp is None:
        return {"type": "null"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if tp is datetime:
        return {"type": "string", "format": "date-time"}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        return {"type": "string", "enum": list(args)} if all(isinstance(a, str) for a in args) else {"enum": list(args)}
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not Unset]
        if len(members) == 1:
            return _schema(members[0])
        return {"anyOf": [_schema(a) for a in members]}
    if origin is list:
        return {"type": "array", "items": _schema(args[0]) if args else {}}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(args[1]) if len(args) > 1 else {}}
    cls = origin or tp
    if attrs.has(cls):
        return object_schema(cls, typing.get_args(tp))
    raise TypeError(f"no JSON Schema for {tp!r}")


def object_schema(cls: type, type_args: tuple[Any, ...] = ()) -> dict[str, Any]:
    hints = _hints(cls)
    params = getattr(cls, "__parameters__", ())
    bindings = dict(zip(params, type_args, strict=False))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        tp = hints[field.name]
        tp = bindings.get(tp, tp)
        if typing.get_origin(tp) is list and typing.get_args(tp) and typing.get_args(tp)[0] in bindings:
            tp = list[bindings[typing.get_args(tp)[0]]]  # type: ignore[misc]
        prop = dict(_schema(tp))
        for keyword, value in field.metadata.get("schema", {}).items():
            # "items" refines the generated item schema (bounds on list[int]) instead of replacing it.
            if keyword == "items" and isinstance(value, dict):
                prop["items"] = {**prop.get("items", {}), **value}
            else:
                prop[keyword] = value
        if field.metadata.get("doc"):
            prop["description"] = field.metadata["doc"]
        properties[field.name] = prop
        if field.default is attrs.NOTHING:
            required.append(field.name)
    schema: dict[str, Any] = {
        "type": "object",
        "title": cls.__name__,
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)
