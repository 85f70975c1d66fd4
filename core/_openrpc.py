"""The OpenRPC document, generated from the same method definitions the dispatcher validates with."""

from __future__ import annotations

from typing import Any

from ._errors import ERRORS_BY_CODE
from ._registry import Registry

OPENRPC_VERSION = "1.3.2"


def openrpc_document(registry: Registry, *, title: str, version: str, description: str) -> dict[str, Any]:
    methods = []
    for spec in sorted(registry, key=lambda s: s.name):
        params = [
            {
                "name": name,
                "required": name in spec.params_schema.get("required", ()),
                "schema": schema,
                **({"description": schema["description"]} if "description" in schema else {}),
            }
            for name, schema in spec.params_schema["properties"].items()
        ]
        entry: dict[str, Any] = {
            "name": spec.name,
            "summary": spec.summary,
            "paramStructure": "by-name",
            "params": params,
            "result": {"name": "result", "schema": spec.result_schema},
            "errors": [{"code": code, "message": ERRORS_BY_CODE[code].default_message} for code in spec.errors],
            "x-hero-intent": {
                "identity": spec.identity,
                "effect": spec.effect,
                "idempotent": spec.idempotent,
            },
        }
        if spec.description:
            entry["description"] = spec.description
        methods.append(entry)
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "methods": methods,
    }
