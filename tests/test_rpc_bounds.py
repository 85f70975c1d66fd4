"""The bounds of WIRE.md section 3: ids in 1..2^53-1, valid Unicode, 64 levels, no NaN, ``[]`` params.

Each case sends raw bytes to the dispatcher, as a peer would, and checks the code and that the answer
is strict UTF-8 JSON (an unencodable answer is what the HTTP layer turns into a 500).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from hero_assistance.core import Caller, Project
from hero_assistance.core._jsonschema import unbounded
from hero_assistance.core._methods import MAX_ID, methods

from .conftest import Desk

OPERATOR = Caller.operator()


async def rpc(project: Project, body: bytes | str, caller: Caller = OPERATOR) -> Any:
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    answer = await project.handle_rpc(raw, caller)
    assert answer is not None
    return json.loads(answer.decode("utf-8"))  # strict: a lone surrogate in the answer would fail here


def call(method: str, params: Any = None, ident: Any = 1) -> str:
    request: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
    if params is not None:
        request["params"] = params
    return json.dumps(request)


def code_of(answer: Any) -> int | None:
    return answer["error"]["code"] if "error" in answer else None


async def test_every_param_schema_is_bounded() -> None:
    for spec in methods:
        assert unbounded(spec.params_schema) == [], spec.name


@pytest.mark.parametrize("value", [10**20, 2**63, 2**53, 1e300, -1, 0, 1.5])
async def test_ids_out_of_range_are_invalid_params(project: Project, value: Any) -> None:
    for method in ("ticket.get", "user.get", "comment.delete", "attachment.get", "ticket.history"):
        answer = await rpc(project, call(method, {"id": value}))
        assert code_of(answer) == -32602, (method, answer)
        assert answer["error"]["data"]["field"] == "id"


async def test_largest_id_is_a_plain_not_found(project: Project) -> None:
    answer = await rpc(project, call("ticket.get", {"id": MAX_ID}))
    assert code_of(answer) == -32003


async def test_other_numbers_out_of_range(project: Project) -> None:
    cases = [
        ("attachment.cleanup_pending", {"older_than_s": 1e20}),
        ("attachment.cleanup_pending", {"older_than_s": 10**30}),
        ("ticket.list", {"assignee_id": 2**64}),
        ("ticket.list", {"limit": 10**40}),
        ("ticket.create", {"title": "t", "attachment_ids": [10**20]}),
        ("comment.create", {"ticket_id": 1, "body": "x", "attachment_ids": [2**63]}),
        ("ticket.update", {"id": 1, "assignee_id": 10**19}),
        ("ticket.member.add", {"ticket_id": 1, "user_id": 1e300}),
        ("presence.set_viewing_ticket", {"ticket_id": 10**25}),
        ("device.list", {"user_id": -(10**20)}),
    ]
    for method, params in cases:
        answer = await rpc(project, call(method, params))
        assert code_of(answer) == -32602, (method, params, answer)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
async def test_non_finite_numbers_are_parse_errors(project: Project, literal: str) -> None:
    body = '{"jsonrpc":"2.0","id":1,"method":"ticket.get","params":{"id":' + literal + "}}"
    assert code_of(await rpc(project, body)) == -32700


async def test_nesting(project: Project) -> None:
    def nested(levels: int) -> Any:
        value: Any = 1
        for _ in range(levels):
            value = [value]
        return value

    # The request object is level 1 and params level 2: 62 more levels inside a param are allowed.
    ok = await rpc(project, call("ticket.create", {"title": "t", "tags": nested(62)}))
    assert code_of(ok) == -32602 and "nested" not in ok["error"]["message"]  # refused by the schema, not depth
    deep = await rpc(project, call("ticket.create", {"title": "t", "tags": nested(63)}))
    assert code_of(deep) == -32602 and "nested deeper" in deep["error"]["data"]["reason"]
    for levels in (990, 5000):
        inner = "[" * levels + "1" + "]" * levels
        body = '{"jsonrpc":"2.0","id":1,"method":"auth.whoami","params":{"x":' + inner + "}}"
        assert code_of(await rpc(project, body)) in (-32700, -32602)
    assert code_of(await rpc(project, "[" * 100_000)) == -32700
    assert code_of(await rpc(project, '{"a":' * 100_000)) == -32700


async def test_lone_surrogates_never_make_the_answer_unencodable(project: Project, desk: Desk) -> None:
    cases = [
        ('{"jsonrpc":"2.0","id":"\\ud800","method":"auth.whoami"}', -32600),
        ('{"jsonrpc":"2.0","id":1,"method":"\\ud800"}', -32600),
        ('{"jsonrpc":"2.0","id":1,"method":"auth.whoami","params":{"\\udfff":1}}', -32602),
        ('{"jsonrpc":"2.0","id":1,"method":"auth.whoami","\\ud800":1}', -32600),
        ('{"jsonrpc":"2.0","id":1,"method":"ticket.create","params":{"title":"a\\ud800b"}}', -32602),
        ('{"jsonrpc":"2.0","id":1,"method":"ticket.create","params":{"title":"t","tags":["\\udc00"]}}', -32602),
        ('{"jsonrpc":"2.0","id":1,"method":"search.query","params":{"q":"\\ud83d"}}', -32602),
        ('[{"jsonrpc":"2.0","id":"\\ud800","method":"x"},{"jsonrpc":"2.0","id":2,"method":"auth.whoami"}]', None),
    ]
    for body, expected in cases:
        answer = await rpc(project, body, desk.alice.caller)
        if expected is None:
            assert [code_of(a) for a in answer] == [-32600, None]
        else:
            assert code_of(answer) == expected, (body, answer)
    # A valid pair is fine, and is stored and answered intact.
    ticket = await rpc(project, call("ticket.create", {"title": "smile \U0001f600"}), desk.alice.caller)
    assert ticket["result"]["title"] == "smile \U0001f600"


async def test_empty_array_params_mean_no_params(project: Project) -> None:
    answer = await rpc(project, call("auth.whoami", []))
    assert answer["result"]["role"] == "admin"
    assert "result" in await rpc(project, call("ticket.list", []))
    assert code_of(await rpc(project, call("auth.whoami", [1]))) == -32602
    assert code_of(await rpc(project, call("ticket.get", []))) == -32602  # no params, but id is required


def forged(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


async def test_forged_cursors_are_invalid_params(project: Project, desk: Desk) -> None:
    cursors = [
        forged("[99999999999999999999999]"),
        forged('["2026", 99999999999999999999999]'),
        forged("[1e400, 1]"),
        forged("[NaN, 1]"),
        forged('["\\ud800", 1]'),
        forged('["\\ud800"]'),
        forged("[" * 5000),
        forged("[-99999999999999999999999]"),
        "!!!",
        "",
    ]
    listings: list[tuple[str, dict[str, Any]]] = [
        ("ticket.list", {}),
        ("user.list", {}),
        ("device.list", {}),
        ("presence.list", {}),
        ("search.query", {"q": "seed"}),
        ("ticket.history", {"id": 1}),
        ("ticket.member.list", {"ticket_id": 1}),
        ("comment.list", {"ticket_id": 1}),
    ]
    await desk.alice.call(project, "ticket.create", title="seed")
    for cursor in cursors:
        for method, params in listings:
            answer = await rpc(project, call(method, {**params, "cursor": cursor}))
            assert code_of(answer) == -32602, (method, cursor, answer)
            assert answer["error"]["data"]["field"] == "cursor"


async def test_refused_calls_log_one_line_without_a_traceback(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for body in (
        call("ticket.get", {"id": 10**20}),
        '{"jsonrpc":"2.0","id":1,"method":"\\ud800"}',
        '{"jsonrpc":"2.0","id":1,"method":"ticket.get","params":{"id":NaN}}',
        "[" * 100_000,
        forged("[1e400, 1]"),
    ):
        await rpc(project, body)
    assert not [r for r in caplog.records if r.exc_info], "a refused call logged a traceback"
    assert all("\n" not in r.getMessage() for r in caplog.records)
