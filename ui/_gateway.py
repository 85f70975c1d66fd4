"""The ui's running state: the projects it merges, how to reach each, and whether each is reachable.

One ``Gateway`` per ``hero-assistance ui`` process. It owns:

- the project list (from the command line and the config file), changed live by ``ui.projects.*``
  and written back to the config file;
- one anonymous ``Client`` per project whose pool forwards browsers' requests byte for byte
  (``Client.forward`` for ``/rpc``, ``Client.get`` for ``/openrpc.json`` and attachments);
- one ``MultiProjectClient``, subscribed to every project as a deliberately anonymous device, whose
  connection-state events are the ui's answer to "is acme reachable?" (``ui.status``). It is not
  the source of the events browsers see: each browser's WebSocket subscribes with that browser's
  own identity, so the project filters every event for the person it is shown to (see
  ``_bridge``);
- the set of open WebSocket bridges, told about project changes so that adding a project
  subscribes every open browser at once and removing one unsubscribes them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import attrs
import trio

from hero_assistance import __version__
from hero_assistance.core import Conflict, Forbidden, InvalidParams, NotFound
from hero_assistance.transport import Client, MultiProjectClient

from ._config import ConfigError, ProjectEndpoint, UiConfig, parse_project_arg, save_config
from ._session import DEVICE_PREFIX

log = logging.getLogger("hero_assistance.ui")

#: The device the gateway's own status subscription asserts on Unix sockets. No magic link is ever
#: consumed for it, so the project treats it as anonymous and sends it no events at all: it only
#: proves the connection is up. (Asserting nothing would make it the local operator, who sees all.)
STATUS_DEVICE = "ui-status:unbound"

State = Literal["connecting", "connected", "disconnected"]


@attrs.define
class ProjectState:
    state: State = "connecting"
    detail: str = ""
    since: datetime = attrs.field(factory=lambda: datetime.now(UTC))

    def wire(self) -> dict[str, Any]:
        return {"state": self.state, "detail": self.detail, "since": self.since.isoformat().replace("+00:00", "Z")}


@attrs.frozen
class ProjectChange:
    """What a bridge is told: a project was added (with its endpoint) or removed."""

    kind: Literal["added", "removed"]
    endpoint: ProjectEndpoint


def device_for(endpoint: ProjectEndpoint, device: str | None) -> str | None:
    """The device key the ui asserts for a browser: its session's on Unix sockets, none over TCP.

    Over the TCP overlay the project attests the peer's overlay address, and headers claiming an
    identity are ignored there anyway; sending none keeps that explicit.
    """
    return device if endpoint.transport == "unix" else None


class Gateway:
    def __init__(self, config: UiConfig) -> None:
        self.config = config
        self.upstreams: dict[str, Client] = {name: Client(url) for name, url in config.projects.items()}
        self.states: dict[str, ProjectState] = {name: ProjectState() for name in config.projects}
        self._watchers: set[trio.MemorySendChannel[ProjectChange]] = set()
        self._mpc: MultiProjectClient | None = None
        self._lock = trio.Lock()  # project changes one at a time: config file and MPC stay in step
        self.allowed_origins: set[str] = {o.rstrip("/") for o in config.origins}
        self.allowed_hosts: set[str] = {o.split("://", 1)[-1] for o in self.allowed_origins}
        self.browsers = 0
        self.stopping = trio.Event()

    # -- where we are reachable ----------------------------------------------------------------
    def allow_listen_address(self, host: str, port: int) -> None:
        """Trust the origins a browser uses for our listening address (loopback under all its names)."""
        hosts = {host}
        if host in ("127.0.0.1", "::1", "localhost"):
            hosts |= {"127.0.0.1", "localhost", "::1"}
        for h in hosts:
            netloc = f"[{h}]:{port}" if ":" in h else f"{h}:{port}"
            self.allowed_hosts.add(netloc)
            self.allowed_origins.add(f"http://{netloc}")

    def origin_allowed(self, origin: str | None) -> bool:
        """``Origin`` of a state-changing request: absent (not a browser) or one of ours.

        A browser always sends ``Origin`` on a cross-origin ``fetch`` POST and on every WebSocket
        handshake, so an absent one means a local tool (curl, the app socket); ``null`` (sandboxed
        frames, ``file:`` pages) is refused like any foreign origin.
        """
        return origin is None or origin.rstrip("/") in self.allowed_origins

    def https_host(self, host: str | None) -> bool:
        """Whether browsers reach us under ``host`` by an https origin (then cookies are ``Secure``)."""
        return host is not None and f"https://{host.lower()}" in self.allowed_origins

    def host_allowed(self, host: str | None) -> bool:
        """Defends against DNS rebinding: a page at ``evil.example`` re-pointed to 127.0.0.1 reaches us
        with its own name in ``Host``. Over the overlay the ui's identity is the machine's, so such a
        page must not even read an attachment."""
        return host is not None and host.lower() in self.allowed_hosts

    # -- projects ------------------------------------------------------------------------------
    def endpoints(self) -> list[ProjectEndpoint]:
        return self.config.endpoints()

    def endpoint(self, name: str) -> ProjectEndpoint | None:
        url = self.config.projects.get(name)
        return ProjectEndpoint(name, url) if url is not None else None

    def project_entries(self) -> list[dict[str, Any]]:
        entries = []
        for endpoint in self.endpoints():
            state = self.states.get(endpoint.name) or ProjectState()
            entries.append(
                {"name": endpoint.name, "url": endpoint.url, "transport": endpoint.transport, **state.wire()}
            )
        return entries

    def status(self) -> dict[str, Any]:
        return {
            "service": "hero_assistance_ui",
            "version": __version__,
            "gateway": self.config.gateway,
            "browsers": self.browsers,
            "projects": self.project_entries(),
        }

    def check_may_change_projects(self, trusted: bool) -> None:
        if self.config.gateway and not trusted:
            raise Forbidden("this ui is a shared gateway: its projects are changed by its operator only")

    async def add_project(self, name: str, url: str) -> dict[str, Any]:
        try:
            endpoint = parse_project_arg(f"{name.strip()}={url}")
        except ConfigError as exc:
            field = "url" if "URL" in str(exc) else "name"
            raise InvalidParams(str(exc), {"field": field, "reason": str(exc)}) from None
        if self.config.gateway and endpoint.transport == "tcp":
            reason = "a shared gateway serves Unix-socket projects only"
            raise InvalidParams(reason, {"field": "url", "reason": reason})
        async with self._lock:
            if endpoint.name in self.config.projects:
                raise Conflict(f"a project named {endpoint.name!r} is already configured", {"name": endpoint.name})
            self.config.projects[endpoint.name] = endpoint.url
            self.upstreams[endpoint.name] = Client(endpoint.url)
            self.states[endpoint.name] = ProjectState()
            self._save()
            if self._mpc is not None:
                await self._mpc.register(endpoint.name, endpoint.url, as_device=device_for(endpoint, STATUS_DEVICE))
            self._notify(ProjectChange("added", endpoint))
        log.info("project added name=%s url=%s", endpoint.name, endpoint.url)
        return {"name": endpoint.name, "url": endpoint.url, "transport": endpoint.transport, **ProjectState().wire()}

    async def remove_project(self, name: str) -> None:
        async with self._lock:
            endpoint = self.endpoint(name)
            if endpoint is None:
                raise NotFound(f"no project named {name!r}", {"kind": "project", "id": name})
            del self.config.projects[name]
            self.states.pop(name, None)
            upstream = self.upstreams.pop(name)
            self._save()
            if self._mpc is not None:
                await self._mpc.unregister(name)
            self._notify(ProjectChange("removed", endpoint))
            await upstream.aclose()
        log.info("project removed name=%s", name)

    def _save(self) -> None:
        try:
            save_config(self.config)
        except OSError as exc:
            log.error("cannot write %s: %s (the change holds until the ui stops)", self.config.config_file, exc)

    # -- bridges -------------------------------------------------------------------------------
    @contextmanager
    def watch(self) -> Iterator[trio.MemoryReceiveChannel[ProjectChange]]:
        """Project changes from now on, for one WebSocket bridge."""
        send, receive = trio.open_memory_channel[ProjectChange](64)
        self._watchers.add(send)
        try:
            yield receive
        finally:
            self._watchers.discard(send)
            send.close()

    def _notify(self, change: ProjectChange) -> None:
        for send in list(self._watchers):
            try:
                send.send_nowait(change)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                # A bridge that cannot take a change is stuck; closing its channel ends it, and the
                # browser reconnects to a fresh one that starts from the current list.
                self._watchers.discard(send)
                send.close()

    # -- running -------------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the status subscription to every project until cancelled."""
        try:
            async with MultiProjectClient() as mpc:
                for endpoint in self.endpoints():
                    await mpc.register(endpoint.name, endpoint.url, as_device=device_for(endpoint, STATUS_DEVICE))
                self._mpc = mpc
                async with mpc.events() as merged:
                    task_status.started()
                    async for project, event in merged:
                        self._observe(project, event)
        finally:
            self._mpc = None
            for upstream in self.upstreams.values():
                with trio.CancelScope(shield=True):
                    await upstream.aclose()

    def _observe(self, project: str, event: dict[str, Any]) -> None:
        change = connection_state(event)
        if change is None or project not in self.states:
            return
        state, detail = change
        current = self.states[project]
        if current.state != state or current.detail != detail:
            self.states[project] = ProjectState(state, detail)
            log.info("project %s %s%s", project, state, f": {detail}" if detail else "")


#: The SDK's states; "paused" (it dropped a stream because we fell behind) is a disconnection to the user.
_STATES: dict[str, State] = {"connecting": "connecting", "connected": "connected"}


def connection_state(event: dict[str, Any]) -> tuple[State, str] | None:
    """The connection state a merged-channel item announces, or ``None`` for a project event."""
    kind = event.get("type")
    if kind == "connection":
        state = _STATES.get(str(event.get("state", "")), "disconnected")
        return state, str(event.get("error") or "")
    if kind == "subscribed":
        return "connected", ""
    return None


__all__ = ["DEVICE_PREFIX", "Gateway", "ProjectChange", "ProjectState", "device_for"]
