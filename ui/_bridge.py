"""One browser's ``/ws``: every project's events, filtered for that browser, merged into one socket.

Each bridge holds its own ``MultiProjectClient`` subscribed with the browser's identity (its
session's device key on Unix sockets; the machine's overlay address over TCP), so each project
filters events for exactly the person looking: a customer's socket never carries an internal note,
because the project never sends it to that subscription. Sharing one subscription between browsers
would need the ui to re-implement the project's permission rules; this needs none.

Frames to the browser (text, one JSON object each):
  ``{"type":"hello","projects":[…]}``                    first, the project list with states
  ``{"type":"event","project":P,"event":{…}}``           a project event (docs/api.md, Events)
  ``{"type":"state","project":P,"state":S,"detail":D}``  connecting / connected / disconnected
  ``{"type":"resync","project":P}``                      events were missed: refetch what is shown
  ``{"type":"projects","projects":[…]}``                 the project list changed
  ``{"type":"heartbeat"}``                               every 25 s of silence: keeps idle-closing
                                                          proxies from cutting the socket, and a
                                                          dead browser shows up as a failed send
The browser sends one thing: ``{"type":"resubscribe","project":P}`` after it signed in or out of P,
because a project decides what a subscription may see when it starts. Anything else is read and
dropped (it must be read: quart-trio stops noticing a disconnect once its small inbound queue is full).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import trio

from hero_assistance.transport import MultiProjectClient

from ._gateway import Gateway, ProjectChange, connection_state, device_for

log = logging.getLogger("hero_assistance.ui")

HEARTBEAT_S = 25.0


class BrowserSocket(Protocol):
    async def send(self, data: str) -> None: ...

    async def receive(self) -> str | bytes: ...


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def envelope(project: str, event: dict[str, Any]) -> dict[str, Any] | None:
    """The frame for one item of the merged channel."""
    kind = event.get("type")
    if kind == "resync_required":
        return {"type": "resync", "project": project}
    state = connection_state(event)
    if state is not None:
        return {"type": "state", "project": project, "state": state[0], "detail": state[1]}
    if "seq" in event and isinstance(kind, str):
        return {"type": "event", "project": project, "event": event}
    return None


async def run_bridge(gateway: Gateway, socket: BrowserSocket, device: str | None) -> None:
    """Pump events to one browser until it goes away (quart cancels us) or the ui stops."""
    gateway.browsers += 1
    try:
        with gateway.watch() as changes:
            # Subscribe to the list as it is now; changes after this point arrive on ``changes``.
            endpoints = gateway.endpoints()
            await socket.send(_dumps({"type": "hello", "projects": gateway.project_entries()}))
            async with MultiProjectClient() as mpc, trio.open_nursery() as nursery:
                for endpoint in endpoints:
                    await mpc.register(endpoint.name, endpoint.url, as_device=device_for(endpoint, device))
                nursery.start_soon(_stop_when, gateway.stopping, nursery.cancel_scope)
                nursery.start_soon(_follow_changes, gateway, socket, mpc, changes, device, nursery.cancel_scope)
                nursery.start_soon(_listen, gateway, socket, mpc, device)
                await _pump(socket, mpc)
    finally:
        gateway.browsers -= 1


async def _pump(socket: BrowserSocket, mpc: MultiProjectClient) -> None:
    async with mpc.events() as merged:
        while True:
            with trio.move_on_after(HEARTBEAT_S) as quiet:
                project, event = await merged.receive()
            if quiet.cancelled_caught:
                await socket.send('{"type":"heartbeat"}')
                continue
            frame = envelope(project, event)
            if frame is not None:
                await socket.send(_dumps(frame))


async def _resubscribe(gateway: Gateway, mpc: MultiProjectClient, project: str, device: str | None) -> None:
    endpoint = gateway.endpoint(project)
    if endpoint is None or project not in mpc.projects():
        return
    await mpc.unregister(project)
    await mpc.register(endpoint.name, endpoint.url, as_device=device_for(endpoint, device))


async def _follow_changes(
    gateway: Gateway,
    socket: BrowserSocket,
    mpc: MultiProjectClient,
    changes: trio.MemoryReceiveChannel[ProjectChange],
    device: str | None,
    done: trio.CancelScope,
) -> None:
    async for change in changes:
        if change.kind == "added":
            await mpc.register(change.endpoint.name, change.endpoint.url, as_device=device_for(change.endpoint, device))
        elif change.endpoint.name in mpc.projects():
            await mpc.unregister(change.endpoint.name)
        await socket.send(_dumps({"type": "projects", "projects": gateway.project_entries()}))
    done.cancel()  # the gateway gave up on this bridge: the browser reconnects to a fresh one


async def _listen(gateway: Gateway, socket: BrowserSocket, mpc: MultiProjectClient, device: str | None) -> None:
    while True:
        message = await socket.receive()
        try:
            frame = json.loads(message)
        except ValueError:
            continue
        if isinstance(frame, dict) and frame.get("type") == "resubscribe" and isinstance(frame.get("project"), str):
            await _resubscribe(gateway, mpc, frame["project"], device)


async def _stop_when(stopping: trio.Event, done: trio.CancelScope) -> None:
    await stopping.wait()
    done.cancel()
