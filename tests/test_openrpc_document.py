"""rpc.discover is generated from the method definitions and describes every method fully."""

from __future__ import annotations

import jsonschema

from hero_assistance.core import Project
from hero_assistance.core._methods import methods

from .conftest import Desk


async def test_every_method_is_described_with_schemas_errors_and_intent(project: Project) -> None:
    doc = await project.call("rpc.discover")
    assert doc["openrpc"].startswith("1.")
    described = {m["name"]: m for m in doc["methods"]}
    assert set(described) == {spec.name for spec in methods}
    for method in described.values():
        assert method["summary"]
        assert method["result"]["schema"]
        for param in method["params"]:
            jsonschema.Draft202012Validator.check_schema(param["schema"])
        assert all(isinstance(e["code"], int) for e in method["errors"])
        intent = method["x-hero-intent"]
        assert intent["identity"] in {"anon", "user", "support", "admin"}
        assert intent["effect"] in {"read", "write", "destructive"}
        assert isinstance(intent["idempotent"], bool)
    assert described["ticket.delete"]["x-hero-intent"] == {
        "identity": "admin",
        "effect": "destructive",
        "idempotent": False,
    }
    assert -32003 in {e["code"] for e in described["ticket.get"]["errors"]}
    assert -32005 in {e["code"] for e in described["auth.request_magic_link"]["errors"]}


async def test_results_match_their_published_schemas(project: Project, desk: Desk) -> None:
    doc = await project.call("rpc.discover")
    schemas = {m["name"]: m["result"]["schema"] for m in doc["methods"]}
    ticket = await desk.alice.call(project, "ticket.create", title="x", body="y")
    comment = await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body="z")
    samples = {
        "ticket.create": ticket,
        "comment.create": comment,
        "ticket.list": await desk.alice.call(project, "ticket.list"),
        "comment.list": await desk.alice.call(project, "comment.list", ticket_id=ticket["id"]),
        "auth.whoami": await desk.alice.call(project, "auth.whoami"),
        "presence.list": await desk.alice.call(project, "presence.list"),
        "project.info": await desk.alice.call(project, "project.info"),
        "ticket.history": await desk.alice.call(project, "ticket.history", id=ticket["id"]),
        "search.query": await desk.alice.call(project, "search.query", q="x"),
        "user.get": await desk.alice.call(project, "user.get", id=desk.sam.user_id),
    }
    for name, value in samples.items():
        jsonschema.validate(value, schemas[name])
