"""A project: its database, services, event hub and dispatcher, opened and closed as one.

``open_project`` is the one way in: an async context manager that opens (and migrates) the
database, runs the project's housekeeping in its own nursery, and closes everything on exit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import attrs
import trio

from hero_assistance import __version__

from ._attachments import Attachments
from ._auth import Auth
from ._comments import Comments
from ._context import Context, Limits, utc_now
from ._dispatcher import Dispatcher
from ._events import EventHub
from ._identity import Actor, AuthMode, Caller
from ._mail import LogOutbox, MagicLinkOutbox
from ._methods import methods
from ._openrpc import openrpc_document
from ._presence import PresenceService
from ._records import ProjectInfo, SignupPolicy
from ._search import Search
from ._storage import Storage
from ._tickets import Tickets
from ._users import Users

log = logging.getLogger(__name__)

PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
DATABASE_FILE = "project.sqlite3"


def check_project_name(name: str) -> str:
    if not PROJECT_NAME.match(name):
        raise ValueError(
            f"invalid project name {name!r}: use 1-63 lowercase letters, digits, '-' or '_', starting alphanumeric"
        )
    return name


@attrs.define(kw_only=True)
class ProjectConfig:
    name: str = attrs.field(converter=check_project_name)
    data_dir: Path = attrs.field(converter=Path)
    title: str | None = None
    auth_mode: AuthMode = "proxy"
    outbox: MagicLinkOutbox | None = None
    limits: Limits = attrs.field(factory=Limits)
    overlay_address: str | None = None
    #: ``open``: a magic link requested for an unknown email creates that customer when consumed.
    signup: SignupPolicy = "invite"
    event_buffer: int = 1024
    event_retention: int = 100_000
    clock: Callable[[], datetime] = utc_now
    housekeeping_interval_s: float = 1.0


class Services:
    """The services of one project, wired together; method handlers receive this."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.users = Users(ctx)
        self.auth = Auth(ctx, self.users)
        self.attachments = Attachments(ctx)
        self.tickets = Tickets(ctx, self.users, self.attachments)
        self.comments = Comments(ctx, self.tickets, self.attachments)
        self.presence = PresenceService(ctx, self.tickets)
        self.search = Search(ctx)

    @cached_property
    def _openrpc(self) -> dict[str, Any]:
        return openrpc_document(
            methods,
            title=f"hero_assistance: {self.ctx.title}",
            version=__version__,
            description="Peer-to-peer support and ticketing: one project server's JSON-RPC API.",
        )

    def openrpc(self) -> dict[str, Any]:
        return self._openrpc

    def info(self, actor: Actor) -> ProjectInfo:
        counts: dict[str, int] = {}
        if actor.user_id is not None:
            storage = self.ctx.storage
            if actor.is_staff:
                rows = storage.rows("SELECT status, count(*) FROM tickets WHERE archived = 0 GROUP BY status")
            else:
                rows = storage.rows(
                    "SELECT t.status, count(*) FROM tickets t JOIN members m ON m.ticket_id = t.id "
                    "WHERE m.user_id = ? AND t.archived = 0 GROUP BY t.status",
                    (actor.user_id,),
                )
            counts = {status: 0 for status in ("open", "pending", "resolved", "closed")}
            counts.update({r[0]: r[1] for r in rows})
            counts["tickets"] = sum(counts.values())
            if actor.is_staff:
                counts["users"] = int(storage.scalar("SELECT count(*) FROM users") or 0)
        return ProjectInfo(
            name=self.ctx.project,
            title=self.ctx.title,
            version=__version__,
            auth_mode=self.ctx.auth_mode,
            signup=self.ctx.signup,
            overlay_address=self.ctx.overlay_address,
            counts=counts,
        )


class Project:
    """One open project. Create it with ``open_project``."""

    def __init__(self, config: ProjectConfig) -> None:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.name = config.name
        self.version = __version__
        self.storage = Storage(config.data_dir / DATABASE_FILE)
        try:
            self.hub = EventHub(self.storage, config.name, buffer=config.event_buffer, retention=config.event_retention)
            self.ctx = Context(
                storage=self.storage,
                hub=self.hub,
                project=config.name,
                title=config.title or config.name,
                data_dir=config.data_dir,
                auth_mode=config.auth_mode,
                outbox=config.outbox or LogOutbox(),
                limits=config.limits,
                clock=config.clock,
                overlay_address=config.overlay_address,
                signup=config.signup,
            )
            self.services = Services(self.ctx)
            self.services.users.ensure_operator()
            self.dispatcher = Dispatcher(methods, self.services)
        except BaseException:
            self.storage.close()
            raise

    async def handle_rpc(self, body: bytes, caller: Caller) -> bytes | None:
        """One ``POST /rpc`` body in, the response body out (``None``: answer 204)."""
        return await self.dispatcher.handle(body, caller)

    async def call(self, method: str, caller: Caller | None = None, **params: Any) -> Any:
        """Call a method in-process as ``caller`` (default: the local operator); raises ``RpcError``."""
        actor = self.resolve(caller or Caller.operator())
        return await self.dispatcher.call(method, params, actor)

    def resolve(self, caller: Caller) -> Actor:
        return self.services.users.resolve(caller)

    def openrpc(self) -> dict[str, Any]:
        return self.services.openrpc()

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "service": "hero_assistance", "project": self.name, "version": self.version}

    def service_manifest(self) -> dict[str, Any]:
        return {
            "protocol": "openrpc",
            "name": "hero_assistance",
            "title": f"hero_assistance: {self.ctx.title}",
            "version": self.version,
            "description": "Peer-to-peer support and ticketing (one project server).",
            "socket": "rpc",
        }

    async def run_housekeeping(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Expire "composing" indicators; runs until cancelled."""
        task_status.started()
        while True:
            await trio.sleep(self.config.housekeeping_interval_s)
            try:
                self.services.presence.expire_composing()
            except Exception:
                log.exception("housekeeping failed; will retry")

    def close(self) -> None:
        self.storage.close()


@asynccontextmanager
async def open_project(config: ProjectConfig) -> AsyncIterator[Project]:
    """Open a project, run its housekeeping, and close it cleanly however the block ends."""
    project = Project(config)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(project.run_housekeeping)
            yield project
            nursery.cancel_scope.cancel()
    finally:
        project.close()
