"""What the generated typed namespaces (``_client_api.py``) stand on: the "not given" marker and a base class."""

from __future__ import annotations

from typing import Any, Final, Protocol


class Omitted:
    """The type of ``OMIT``: a parameter left out of the call, so the server applies its own default.

    Distinct from ``None``, which several methods take as a real value (``ticket.update(assignee_id=None)``
    unassigns; leaving ``assignee_id`` out keeps the assignee).
    """

    _instance: Omitted | None = None

    def __new__(cls) -> Omitted:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OMIT"

    def __bool__(self) -> bool:
        return False


OMIT: Final = Omitted()


class SupportsCall(Protocol):
    async def call(self, method: str, /, **params: Any) -> Any: ...


class Namespace:
    """One group of methods (``client.tickets``, ``client.comments``, …) bound to a caller."""

    __slots__ = ("_caller",)

    def __init__(self, caller: SupportsCall) -> None:
        self._caller = caller

    async def _call(self, method: str, **params: Any) -> Any:
        return await self._caller.call(method, **{k: v for k, v in params.items() if v is not OMIT})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._caller!r}>"
