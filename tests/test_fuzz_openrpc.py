"""Every method of the served OpenRPC document, fuzzed as every role: never -32603, never an HTTP 500.

The strategies come from the document itself (``from_schema`` below draws valid params from each
method's JSON Schemas; hypothesis-jsonschema no longer runs on current Hypothesis), mixed with
what a hostile client sends instead: integers far out of range, floats, lone surrogates, deep
nesting, wrong types, unknown names. A new method is fuzzed without
anyone writing a case for it. Every success must match the method's published result schema.

The bulk runs in-process through ``Project.handle_rpc`` (the bytes the transport hands over); a
smaller batch goes over a real server's ``rpc.sock`` to prove no answer becomes an HTTP 500.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hero_assistance.core import Caller, Project, ProjectConfig

from ._server_fixtures import ServerProcess, http_unix, running_server
from .conftest import b64, png_bytes

EXAMPLES_PER_METHOD = 30  # x 6 roles x 31 methods: over 5,000 calls in every run
BUILTIN_CODES = {-32700, -32600, -32601, -32602}


def document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ha-doc-") as tmp:
        project = Project(ProjectConfig(name="doc", data_dir=Path(tmp)))
        try:
            return project.openrpc()
        finally:
            project.close()


DOC = document()
METHODS = {m["name"]: m for m in DOC["methods"]}


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for the JSON Schema subset the params use (the registry generates nothing else)."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        outer = {k: v for k, v in schema.items() if k != "anyOf"}
        return st.one_of([from_schema({**member, **outer}) for member in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low, high = schema["minimum"], schema["maximum"]
        return st.integers(low, min(high, low + 10)) | st.integers(low, high)
    if kind == "number":
        return st.floats(schema["minimum"], schema["maximum"])
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema["maxLength"], 40))
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=min(schema["maxItems"], 4))
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v) for k, v in properties.items() if k in required},
            optional={k: from_schema(v) for k, v in properties.items() if k not in required},
        )
    raise AssertionError(f"the fuzz test does not know this schema: {schema}")


def params_schema(method: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {p["name"]: p["schema"] for p in method["params"]},
        "required": [p["name"] for p in method["params"] if p["required"]],
        "additionalProperties": False,
    }


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
hostile_scalars = st.one_of(
    st.integers(2**53, 2**80),
    st.integers(-(2**80), 0),
    st.integers(1, 8),  # ids of things that exist, so handlers run past "not found"
    st.sampled_from([2**53 - 1, 2**63, 2**64, 1e300, -1e300, 1.5, 0.0, 1e20]),
    st.floats(allow_nan=False, allow_infinity=False),
    surrogates,
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), surrogates, st.text(max_size=5)),
    st.text(max_size=20),
    st.sampled_from(["", " ", "x" * 1001, '"unterminated', "a OR", "NEAR(", "(", "open", "customer", "a@b.c"]),
    st.none(),
    st.booleans(),
)
hostile_values = st.one_of(
    hostile_scalars,
    st.lists(hostile_scalars, max_size=4),
    st.dictionaries(st.text(max_size=5), hostile_scalars, max_size=3),
    st.integers(55, 70).map(nested),
)


def params_for(method: dict[str, Any]) -> st.SearchStrategy[Any]:
    names = [p["name"] for p in method["params"]]
    valid = from_schema(params_schema(method))
    key = st.sampled_from(names) if names else st.text(max_size=6)
    mutated = st.tuples(valid, key, hostile_values).map(lambda t: {**t[0], t[1]: t[2]})
    renamed = st.tuples(valid, surrogates | st.text(max_size=6), hostile_values).map(lambda t: {**t[0], t[1]: t[2]})
    not_an_object = st.sampled_from([[], [1], "params", 7, None, [{"id": 1}]])
    return st.one_of(valid, valid, mutated, mutated, renamed, not_an_object)


# -- the project and its people ------------------------------------------------------------------
class Roles:
    def __init__(self) -> None:
        self.callers: dict[str, Caller] = {
            "anonymous": Caller.anonymous(),
            "unbound": Caller.from_device("4ff:1:2:3::1"),
            "operator": Caller.operator(),
        }


async def seed(project: Project, roles: Roles) -> None:
    for email, role, device in (
        ("alice@example.com", "customer", "400:a::1"),
        ("bob@example.com", "customer", "400:b::1"),
        ("sam@example.com", "support", "400:5::1"),
    ):
        await project.call("user.enroll", email=email, role=role)
        token = (await project.call("auth.issue_magic_link", email=email))["token"]
        caller = Caller.from_device(device)
        await project.call("auth.consume_magic_link", caller, token=token)
        roles.callers[role if role == "support" else email.split("@")[0]] = caller
    alice, bob, sam = roles.callers["alice"], roles.callers["bob"], roles.callers["support"]
    image = await project.call(
        "attachment.upload", alice, filename="a.png", content_type="image/png", data=b64(png_bytes())
    )
    first = await project.call(
        "ticket.create", alice, title="seed ticket", body="printer", attachment_ids=[image["id"]]
    )
    await project.call("ticket.create", bob, title="bob's ticket", body="scanner")
    await project.call("comment.create", alice, ticket_id=first["id"], body="more about the printer")
    await project.call("comment.create", sam, ticket_id=first["id"], body="internal note", internal=True)
    await project.call("presence.set_viewing_ticket", sam, ticket_id=first["id"])


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, Roles]]:
    project = Project(ProjectConfig(name="fuzz", data_dir=tmp_path_factory.mktemp("fuzz")))
    roles = Roles()
    trio.run(seed, project, roles)
    try:
        yield project, roles
    finally:
        project.close()


def check_answer(method: dict[str, Any], raw: bytes, sent: Any) -> None:
    answer = json.loads(raw.decode("utf-8"))  # strict UTF-8: a lone surrogate would fail here
    if "error" in answer:
        code = answer["error"]["code"]
        assert code != -32603, (method["name"], sent, answer)
        declared = {e["code"] for e in method["errors"]} | BUILTIN_CODES
        assert code in declared, f"{method['name']} answered {code}, not in its published errors: {answer}"
    else:
        jsonschema.validate(answer["result"], method["result"]["schema"])


def body_for(name: str, params: Any, ident: int) -> bytes:
    # json.dumps writes lone surrogates as \\udXXX escapes and NaN as a bare literal: both reach the server.
    return json.dumps({"jsonrpc": "2.0", "id": ident, "method": name, "params": params}).encode()


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_as_every_role(fuzzed: tuple[Project, Roles], name: str) -> None:
    project, roles = fuzzed
    method = METHODS[name]
    strategy = params_for(method)
    calls = 0

    @settings(
        max_examples=EXAMPLES_PER_METHOD,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        nonlocal calls
        batch = [(caller, data.draw(strategy)) for caller in roles.callers.values()]

        async def send_all() -> None:
            for ident, (caller, params) in enumerate(batch, 1):
                raw = await project.handle_rpc(body_for(name, params, ident), caller)
                assert raw is not None
                check_answer(method, raw, params)

        trio.run(send_all)
        calls += len(batch)

    run()
    assert calls >= EXAMPLES_PER_METHOD * len(roles.callers)


# -- over a real server's rpc.sock ----------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server() as server:
        yield server


async def test_hostile_bodies_over_http_are_never_a_500(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        served = (await client.request("GET", "/openrpc.json")).json()
        await client.call("user.enroll", email="carol@example.com", role="customer")
    methods = {m["name"]: m for m in served["methods"]}
    assert methods.keys() == METHODS.keys()
    identities = [{}, {"x-hero-user": "carol@example.com"}, {"x-hero-device": "400:c::1"}]
    bodies: list[tuple[dict[str, Any] | None, bytes]] = [
        (None, b'{"jsonrpc":"2.0","id":"\\ud800","method":"auth.whoami"}'),
        (None, b'{"jsonrpc":"2.0","id":1,"method":"\\udfff"}'),
        (None, b'{"jsonrpc":"2.0","id":1,"method":"auth.whoami","params":{"\\ud800":1}}'),
        (None, b'{"jsonrpc":"2.0","id":1,"method":"ticket.get","params":{"id":NaN}}'),
        (None, b"[" * 100_000),
        (None, b'{"a":' * 100_000),
        (None, b'{"jsonrpc":"2.0","id":1,"method":"auth.whoami","params":{"x":' + b"[" * 990 + b"]" * 990 + b"}}"),
        (None, b'[{"jsonrpc":"2.0","id":"\\udc00","method":"x"}]'),
    ]
    examples: list[tuple[str, Any]] = []

    @settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(methods)).flatmap(lambda n: st.tuples(st.just(n), params_for(methods[n]))))
    def collect(example: tuple[str, Any]) -> None:
        examples.append(example)

    collect()
    for i, (name, params) in enumerate(examples):
        bodies.append((methods[name], body_for(name, params, i)))
    async with http_unix(server.dirs.rpc) as client:
        for i, (method, body) in enumerate(bodies):
            headers = {"content-type": "application/json", **identities[i % len(identities)]}
            response = await client.request("POST", "/rpc", headers=headers, body=body)
            assert response.status in (200, 204), (response.status, body[:200], response.body[:500])
            if method is not None:
                check_answer(method, response.body, body[:200])
            else:
                answers = json.loads(response.body.decode("utf-8"))
                for answer in answers if isinstance(answers, list) else [answers]:
                    assert answer["error"]["code"] in BUILTIN_CODES
    assert "Traceback" not in server.log, server.log[-3000:]
