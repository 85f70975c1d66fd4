"""Method definitions: one declaration gives validation, dispatch and the OpenRPC entry.

A method is a function ``(services, actor, params) -> record`` decorated with its name, identity
requirement and effect. Its params class (an attrs class) is read from the annotation; the JSON
Schema that validates calls and the one ``rpc.discover`` publishes are generated from it.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any, Literal

import attrs
import fastjsonschema
import jsonschema

from ._errors import ERRORS_BY_CODE, InvalidParams
from ._jsonschema import object_schema, schema_for, unbounded
from ._permissions import Identity

Effect = Literal["read", "write", "destructive"]


@attrs.frozen
class MethodSpec:
    name: str
    summary: str
    description: str
    params_cls: type
    result_type: Any
    identity: Identity
    effect: Effect
    idempotent: bool
    errors: tuple[int, ...]
    handler: Callable[..., Any]
    params_schema: dict[str, Any]
    result_schema: dict[str, Any]
    validator: Any = attrs.field(eq=False, repr=False)
    check: Callable[[Any], Any] = attrs.field(eq=False, repr=False)
    int_fields: frozenset[str] = frozenset()

    def parse_params(self, params: dict[str, Any]) -> Any:
        """Validate ``params`` against the schema; -32602 names the first offending field.

        The compiled check (fastjsonschema: generated Python, ~1 µs) runs on every call; only a call
        it rejects pays for jsonschema's full walk, whose errors say which field and why.
        """
        try:
            self.check(params)
        except fastjsonschema.JsonSchemaException:
            errors = sorted(self.validator.iter_errors(params), key=lambda e: (len(e.path), str(e.path)))
            if errors:
                raise _invalid(errors[0], params) from None
            raise InvalidParams.field("params", "do not match the method's schema") from None
        values = {k: int(v) if k in self.int_fields and isinstance(v, float) else v for k, v in params.items()}
        return self.params_cls(**values)


def _invalid(error: jsonschema.ValidationError, params: dict[str, Any]) -> InvalidParams:
    if error.validator == "required" and not error.path:
        missing = [name for name in error.validator_value if name not in params]
        return InvalidParams.field(missing[0] if missing else "params", "required")
    if error.validator == "additionalProperties" and not error.path:
        known = set(error.schema.get("properties", {}))
        unknown = sorted(set(params) - known)
        return InvalidParams.field(unknown[0] if unknown else "params", "unknown parameter")
    field = ".".join(str(p) for p in error.path) or "params"
    return InvalidParams.field(field, error.message[:300])


class Registry:
    def __init__(self) -> None:
        self._methods: dict[str, MethodSpec] = {}

    def __iter__(self) -> Iterator[MethodSpec]:
        return iter(self._methods.values())

    def get(self, name: str) -> MethodSpec | None:
        return self._methods.get(name)

    def method(
        self,
        name: str,
        *,
        identity: Identity,
        effect: Effect = "read",
        idempotent: bool | None = None,
        errors: tuple[int, ...] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            # "Services" is imported only for type checking (it imports this module): stand it in.
            hints = typing.get_type_hints(fn, localns={"Services": Any})
            params_cls = hints["params"]
            result_type = hints["return"]
            doc = inspect.getdoc(fn) or name
            summary, _, description = doc.partition("\n\n")
            codes = {-32602, *errors}
            if identity != "anon":
                codes.add(-32001)
            if identity in ("support", "admin"):
                codes.add(-32002)
            unknown = codes - set(ERRORS_BY_CODE)
            if unknown:
                raise ValueError(f"{name}: unknown error codes {unknown}")
            params_schema = object_schema(params_cls)
            loose = unbounded(params_schema)
            if loose:
                raise TypeError(f"{name}: every param needs bounds ({'; '.join(loose)})")
            int_fields = frozenset(
                f.name
                for f in attrs.fields(params_cls)
                if "integer" in str(schema_for(typing.get_type_hints(params_cls)[f.name]))
            )
            self._methods[name] = MethodSpec(
                name=name,
                summary=summary.replace("\n", " ").strip(),
                description=description.strip(),
                params_cls=params_cls,
                result_type=result_type,
                identity=identity,
                effect=effect,
                idempotent=(effect == "read") if idempotent is None else idempotent,
                errors=tuple(sorted(codes, reverse=True)),
                handler=fn,
                params_schema=params_schema,
                result_schema=schema_for(result_type),
                validator=jsonschema.Draft202012Validator(params_schema),
                check=fastjsonschema.compile(params_schema),
                int_fields=int_fields,
            )
            return fn

        return register
