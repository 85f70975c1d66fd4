// The one WebSocket: every project's events, each tagged with its project, and connection states.
// Reconnects with backoff; after a reconnect (or a project coming back) the views refetch what they
// show, because events may have been missed while we were away.

import { applyPresenceEvent, emit, setProjects, setProjectState } from "./store.js";

let socket = null;
let attempt = 0;
let everConnected = false;
const wasDown = new Set(); // projects whose stream broke: refetch when they come back
export const liveState = { connected: false };

function url() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function dispatch(frame) {
  switch (frame.type) {
    case "hello":
      setProjects(frame.projects);
      if (everConnected) emit("resync", { project: null });
      everConnected = true;
      break;
    case "projects":
      setProjects(frame.projects);
      emit("projects-changed", frame.projects);
      break;
    case "state":
      setProjectState(frame.project, frame.state, frame.detail);
      if (frame.state === "disconnected") wasDown.add(frame.project);
      if (frame.state === "connected" && wasDown.delete(frame.project)) emit("resync", { project: frame.project });
      break;
    case "resync":
      emit("resync", { project: frame.project });
      break;
    case "event": {
      const event = frame.event;
      if (event.type.startsWith("presence.")) applyPresenceEvent(frame.project, event);
      emit("event", { project: frame.project, event });
      break;
    }
    default:
      break;
  }
}

export function connectLive() {
  if (socket) return;
  socket = new WebSocket(url());
  socket.onopen = () => {
    attempt = 0;
    liveState.connected = true;
    emit("live", true);
  };
  socket.onmessage = (msg) => {
    let frame;
    try {
      frame = JSON.parse(msg.data);
    } catch {
      return;
    }
    dispatch(frame);
  };
  socket.onclose = () => {
    socket = null;
    if (liveState.connected) emit("live", false);
    liveState.connected = false;
    attempt += 1;
    const delay = Math.min(10000, 500 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() / 2);
    setTimeout(connectLive, delay);
  };
}

// A project decides what a subscription may see when it starts: after signing in or out of a
// project, ask the ui to subscribe to it afresh with the new identity.
export function resubscribe(projects) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  for (const project of projects) socket.send(JSON.stringify({ type: "resubscribe", project }));
}
