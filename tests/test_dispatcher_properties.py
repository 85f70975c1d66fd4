"""Arbitrary JSON at the dispatcher: always a valid JSON-RPC answer, never -32603, and a rejected
call leaves the database exactly as it was."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hero_assistance.core import Caller, Project, ProjectConfig
from hero_assistance.core._methods import methods

METHOD_NAMES = sorted(spec.name for spec in methods)
PARAM_NAMES = sorted({name for spec in methods for name in spec.params_schema["properties"]})

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
param_values = (
    json_values
    | st.integers(0, 5)
    | st.sampled_from(["open", "closed", "urgent", "customer", "support", "online", "x" * 300, "a@b.c", ""])
    # Strings that are malformed FTS5 queries: the search paths must answer -32602, never -32603.
    | st.sampled_from(['"unterminated', "title:x", "AND", "NEAR(", "*", "a OR", "^", "-x", "(", "seed*", "NOT x"])
)
params = st.dictionaries(st.sampled_from(PARAM_NAMES) | st.text(max_size=8), param_values, max_size=5)
requests = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0") | json_values, "method": st.sampled_from(METHOD_NAMES) | json_values},
    optional={"id": st.integers(-5, 5) | st.text(max_size=5) | st.none() | json_values, "params": params | json_values},
)
bodies = (
    requests.map(json.dumps)
    | st.lists(requests, max_size=4).map(json.dumps)
    | json_values.map(json.dumps)
    | st.binary(max_size=60).map(lambda b: b.decode("latin-1"))
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    path: Path = tmp_path_factory.mktemp("prop")
    opened = Project(ProjectConfig(name="prop", data_dir=path))
    trio.run(_seed, opened)
    yield opened
    opened.close()


async def _seed(project: Project) -> None:
    await project.call("user.enroll", email="cust@example.com", role="customer")
    ticket = await project.call("ticket.create", Caller.from_user("cust@example.com"), title="seed", body="b")
    await project.call("comment.create", ticket_id=ticket["id"], body="note", internal=True)


def fingerprint(project: Project) -> str:
    digest = hashlib.sha256()
    tables = [r[0] for r in project.storage.rows("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for table in tables:
        if table.startswith("search_index_") or table == "sqlite_sequence":
            continue
        for row in project.storage.rows(
            f"SELECT * FROM {table} ORDER BY rowid"
            if table != "members"
            else "SELECT * FROM members ORDER BY ticket_id, user_id"
        ):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def check_response(obj: Any) -> list[int | None]:
    """Assert one JSON-RPC response object is well formed; return its error code (None if a result)."""
    assert isinstance(obj, dict)
    assert obj["jsonrpc"] == "2.0"
    assert "id" in obj
    assert ("result" in obj) != ("error" in obj)
    if "error" in obj:
        error = obj["error"]
        assert isinstance(error["code"], int) and isinstance(error["message"], str)
        assert error["code"] != -32603, error
        if error["code"] == -32602:
            assert set(error["data"]) == {"field", "reason"}
        return [error["code"]]
    return [None]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, as_customer=st.booleans())
def test_any_json_gets_a_valid_answer_and_rejections_change_nothing(
    project: Project, body: str, as_customer: bool
) -> None:
    caller = Caller.from_user("cust@example.com") if as_customer else Caller.operator()
    before = fingerprint(project)
    raw = trio.run(project.handle_rpc, body.encode(), caller)
    if raw is None:
        return  # notifications only
    answer = json.loads(raw)
    codes = (
        [code for item in answer for code in check_response(item)]
        if isinstance(answer, list)
        else check_response(answer)
    )
    if isinstance(answer, list):
        assert answer, "a batch answer is never an empty array"
    if codes and all(code is not None for code in codes):
        assert fingerprint(project) == before, f"a rejected call changed the database: {body!r}"


def test_notification_batch_answers_nothing(project: Project) -> None:
    body = json.dumps([{"jsonrpc": "2.0", "method": "auth.whoami"}, {"jsonrpc": "2.0", "method": "nope"}])
    assert trio.run(project.handle_rpc, body.encode(), Caller.operator()) is None


def test_internal_errors_carry_a_trace_id_not_a_trace(
    project: Project, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("secret detail from deep inside")

    monkeypatch.setattr(project.services.tickets, "find", explode)
    raw = trio.run(project.handle_rpc, b'{"jsonrpc":"2.0","id":7,"method":"ticket.list"}', Caller.operator())
    assert raw is not None
    answer = json.loads(raw)
    assert answer["error"]["code"] == -32603
    assert "secret detail" not in raw.decode()
    trace_id = answer["error"]["data"]["trace_id"]
    assert any(trace_id in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "title"),
        ({"title": "x", "surprise": 1}, "surprise"),
        ({"title": 5}, "title"),
        ({"title": "x", "priority": "meh"}, "priority"),
        ({"title": "x", "tags": ["ok", 3]}, "tags.1"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
    ],
)
def test_invalid_params_name_the_field(project: Project, params: dict[str, Any], field: str) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ticket.create", "params": params})
    raw = trio.run(project.handle_rpc, body.encode(), Caller.operator())
    assert raw is not None
    error = json.loads(raw)["error"]
    assert error["code"] == -32602
    assert error["data"]["field"] == field


def test_positional_params_are_refused(project: Project) -> None:
    raw = trio.run(
        project.handle_rpc, b'{"jsonrpc":"2.0","id":1,"method":"ticket.get","params":[1]}', Caller.operator()
    )
    assert raw is not None and json.loads(raw)["error"]["code"] == -32602
