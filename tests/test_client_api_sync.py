"""The typed namespaces stay in step with the method registry: one wrapper per method, same params, same result."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest

from hero_assistance.core._methods import methods
from hero_assistance.transport import _client_api
from hero_assistance.transport._client import Client
from hero_assistance.transport._client_api_base import OMIT
from hero_assistance.transport._client_codegen import NAMESPACES, generate

API_FILE = Path(_client_api.__file__)


def test_the_checked_in_file_is_what_the_generator_writes() -> None:
    assert API_FILE.read_text() == generate(), (
        "transport/_client_api.py is out of date: run "
        "`.venv/bin/python -m hero_assistance.transport._client_codegen > transport/_client_api.py`"
    )


class _Recorded(Exception):
    pass


class RecordingCaller:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, method: str, /, **params: Any) -> Any:
        self.calls.append((method, params))
        raise _Recorded


def _wrapper_for(client: Client, name: str) -> Any:
    prefix, _, leaf = name.rpartition(".")
    namespace = getattr(client, NAMESPACES[prefix][0])
    return getattr(namespace, leaf)


@pytest.mark.parametrize("spec", list(methods), ids=lambda s: s.name)
async def test_every_registry_method_has_a_matching_wrapper(spec: Any) -> None:
    client = Client("unix:/nowhere/rpc.sock")
    wrapper = _wrapper_for(client, spec.name)
    signature = inspect.signature(wrapper)
    fields = {f.name: f for f in attrs.fields(spec.params_cls)}
    assert list(signature.parameters) == [f for f in fields if fields[f].default is attrs.NOTHING] + [
        f for f in fields if fields[f].default is not attrs.NOTHING
    ]
    for name, parameter in signature.parameters.items():
        required = fields[name].default is attrs.NOTHING
        assert (parameter.default is inspect.Parameter.empty) == required, name
        assert (parameter.kind is inspect.Parameter.KEYWORD_ONLY) == (not required), name
    hints = typing.get_type_hints(wrapper)
    assert hints["return"] == spec.result_type

    # Calling it sends the registry's method name with exactly the params given (OMIT ones left out).
    recorder = RecordingCaller()
    namespace = type(wrapper.__self__)(recorder)
    args = {name: f"value-of-{name}" for name, f in fields.items() if f.default is attrs.NOTHING}
    with pytest.raises(_Recorded):
        await getattr(namespace, wrapper.__name__)(**args)
    assert recorder.calls == [(spec.name, args)]
    await client.aclose()


def test_omit_is_distinct_from_none() -> None:
    assert OMIT is not None and not OMIT and repr(OMIT) == "OMIT"
    assert type(OMIT)() is OMIT
