"""Generate ``_client_api.py`` (the typed namespaces of ``Client``) from the method registry in ``core``.

Why generated rather than reflected at run time: a typed wrapper per method gives mypy and editors real
signatures (``client.tickets.create(title=…)`` → ``Ticket``), which a ``__getattr__`` proxy cannot. Why checked
in rather than generated at install: the file is readable and reviewable like any other; the test
``test_client_api_sync.py`` regenerates it in memory and fails if the checked-in copy differs.

Regenerate after changing ``core/_methods.py``::

    .venv/bin/python -m hero_assistance.transport._client_codegen > transport/_client_api.py

The output is already in ``ruff format`` style, so regenerating never fights the formatter.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal, Union

import attrs

from hero_assistance import core
from hero_assistance.core import MethodSpec, Page, PresenceStatus, Priority, Role, TicketStatus, UserStatus, methods
from hero_assistance.core._jsonschema import Unset

LINE = 120

#: Method-name prefix -> (attribute on ``Client``, class name). A new prefix must be added here.
NAMESPACES: dict[str, tuple[str, str]] = {
    "rpc": ("rpc", "RpcApi"),
    "project": ("project", "ProjectApi"),
    "auth": ("auth", "AuthApi"),
    "device": ("devices", "DevicesApi"),
    "user": ("users", "UsersApi"),
    "ticket": ("tickets", "TicketsApi"),
    "ticket.member": ("members", "MembersApi"),
    "comment": ("comments", "CommentsApi"),
    "attachment": ("attachments", "AttachmentsApi"),
    "presence": ("presence", "PresenceApi"),
    "search": ("search", "SearchApi"),
}

#: Literal aliases rendered by name (and imported) instead of spelled out.
ALIASES: dict[Any, tuple[str, str]] = {
    Role: ("Role", "hero_assistance.core"),
    Priority: ("Priority", "hero_assistance.core"),
    TicketStatus: ("TicketStatus", "hero_assistance.core"),
    PresenceStatus: ("PresenceStatus", "hero_assistance.core"),
    UserStatus: ("UserStatus", "hero_assistance.core"),
}


class _Imports:
    def __init__(self) -> None:
        self.names: dict[str, set[str]] = {}

    def add(self, module: str, name: str) -> str:
        self.names.setdefault(module, set()).add(name)
        return name

    def lines(self) -> list[str]:
        """The import block in ruff's isort layout: standard library, first party, then local modules."""
        groups: list[list[str]] = [[], [], []]
        for module in sorted(self.names):
            group = groups[2 if module.startswith(".") else 1 if module.startswith("hero_assistance") else 0]
            # ruff's isort order: CONSTANTS, then Classes, then functions, each alphabetical.
            names = sorted(self.names[module], key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
            line = f"from {module} import {', '.join(names)}"
            if len(line) > LINE:
                group += [f"from {module} import (", *(f"    {n}," for n in names), ")"]
            else:
                group.append(line)
        out: list[str] = []
        for group in groups:
            if group:
                out += [*([""] if out else []), *group]
        return out


def _render(tp: Any, imports: _Imports, *, param: bool) -> str:
    if tp in ALIASES:
        name, module = ALIASES[tp]
        return imports.add(module, name)
    if tp is type(None) or tp is None:
        return "None"
    if tp in (int, str, bool, float):
        return str(tp.__name__)
    if tp is Any:
        imports.add("typing", "Any")
        return "Any"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not Unset and a is not type(None)]
        rendered = [_render(a, imports, param=param) for a in members]
        if type(None) in args:
            rendered.append("None")
        return " | ".join(rendered)
    if origin is list:
        # Parameters accept any sequence (a tuple serialises to the same JSON array).
        if param:
            imports.add("collections.abc", "Sequence")
            return f"Sequence[{_render(args[0], imports, param=param)}]"
        return f"list[{_render(args[0], imports, param=param)}]"
    if origin is dict:
        return f"dict[{_render(args[0], imports, param=param)}, {_render(args[1], imports, param=param)}]"
    if origin is Literal:
        imports.add("typing", "Literal")
        return "Literal[" + ", ".join(f'"{a}"' for a in args) + "]"
    if origin is Page:
        imports.add("hero_assistance.core", "Page")
        return f"Page[{_render(args[0], imports, param=param)}]"
    if isinstance(tp, type) and attrs.has(tp):
        # Every record a method returns is exported by the core: import it from there, not its module.
        public = getattr(core, tp.__name__, None) is tp
        return imports.add("hero_assistance.core" if public else tp.__module__, tp.__name__)
    raise TypeError(f"the code generator cannot render {tp!r}; teach _render about it")


def _namespace_of(name: str) -> tuple[str, str]:
    prefix, _, leaf = name.rpartition(".")
    if prefix not in NAMESPACES:
        raise KeyError(f"method {name!r}: add its prefix {prefix!r} to NAMESPACES in _client_codegen.py")
    return prefix, leaf


def _signature(head: str, params: list[str], tail: str, indent: str) -> list[str]:
    one_line = f"{indent}{head}({', '.join(params)}){tail}"
    if len(one_line) <= LINE:
        return [one_line]
    return [f"{indent}{head}(", *(f"{indent}    {p}," for p in params), f"{indent}){tail}"]


def _method(spec: MethodSpec, leaf: str, imports: _Imports) -> list[str]:
    hints = typing.get_type_hints(spec.params_cls)
    fields = attrs.fields(spec.params_cls)
    required = [f for f in fields if f.default is attrs.NOTHING]
    optional = [f for f in fields if f.default is not attrs.NOTHING]
    params = ["self"]
    params += [f"{f.name}: {_render(hints[f.name], imports, param=True)}" for f in required]
    if optional:
        imports.add("._client_api_base", "OMIT")
        imports.add("._client_api_base", "Omitted")
        params.append("*")
        for f in optional:
            rendered = _render(hints[f.name], imports, param=True)
            # ruff wants None last in a union: "X | Omitted | None".
            rendered = (
                rendered[: -len(" | None")] + " | Omitted | None"
                if rendered.endswith(" | None")
                else rendered + " | Omitted"
            )
            params.append(f"{f.name}: {rendered} = OMIT")
    result = _render(spec.result_type, imports, param=False)
    lines = _signature(f"async def {leaf}", params, f" -> {result}:", "    ")
    lines.append(f'        """{spec.summary}"""')
    call_args = [f'"{spec.name}"'] + [f"{f.name}={f.name}" for f in fields]
    structured = spec.result_type not in (dict[str, Any], Any)
    if structured:
        imports.add("hero_assistance.core", "converter")
        lines += _signature("result = await self._call", call_args, "", "        ")
        lines.append(f"        return converter.structure(result, {result})")
    else:
        lines += _signature("return await self._call", call_args, "", "        ")
    return lines


def generate(specs: Iterable[MethodSpec] | None = None) -> str:
    """The text of ``_client_api.py`` for the given method specs (default: the registry)."""
    imports = _Imports()
    imports.add("._client_api_base", "Namespace")
    imports.add("._client_api_base", "SupportsCall")
    by_prefix: dict[str, list[tuple[str, MethodSpec]]] = {prefix: [] for prefix in NAMESPACES}
    for spec in specs if specs is not None else methods:
        prefix, leaf = _namespace_of(spec.name)
        by_prefix[prefix].append((leaf, spec))
    body: list[str] = []
    for prefix, (_attr, cls) in NAMESPACES.items():
        entries = by_prefix[prefix]
        if not entries:
            continue
        body += ["", "", f"class {cls}(Namespace):", f'    """``{prefix}.*``: ``client.{_attr}``."""', ""]
        for i, (leaf, spec) in enumerate(entries):
            if i:
                body.append("")
            body += _method(spec, leaf, imports)
    body += [
        "",
        "",
        "class TypedNamespaces:",
        '    """The namespaces as attributes; ``Client`` inherits this and binds them to itself."""',
        "",
    ]
    present = [(attr, cls) for prefix, (attr, cls) in NAMESPACES.items() if by_prefix[prefix]]
    body += [f"    {attr}: {cls}" for attr, cls in present]
    body += ["", "    def _bind_namespaces(self, caller: SupportsCall) -> None:"]
    body += [f"        self.{attr} = {cls}(caller)" for attr, cls in present]
    header = [
        '"""The typed namespaces of ``Client``: one method per JSON-RPC method, returning ``core`` records.',
        "",
        "GENERATED by ``python -m hero_assistance.transport._client_codegen`` from the method registry of",
        "``hero_assistance.core``; do not edit by hand. ``tests/test_client_api_sync.py`` fails when this file",
        "is out of date. Optional parameters default to ``OMIT`` (left out of the call: the server's default",
        'applies), which is distinct from an explicit ``None``."""',
        "",
        "from __future__ import annotations",
        "",
    ]
    import_lines = imports.lines()
    return "\n".join(header + import_lines + body) + "\n"


if __name__ == "__main__":
    sys.stdout.write(generate())
