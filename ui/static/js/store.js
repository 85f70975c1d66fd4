// What the app knows: the projects, who I am in each, the people and their presence, what I have read.
// Views read from here and listen to `bus` for changes; only this module and live.js write.

import { batch, errorMessage, rpc, ui } from "./api.js";

export const bus = new EventTarget();

export function emit(type, detail) {
  bus.dispatchEvent(new CustomEvent(type, { detail }));
}

export function on(type, fn) {
  const handler = (e) => fn(e.detail);
  bus.addEventListener(type, handler);
  return () => bus.removeEventListener(type, handler);
}

export const store = {
  projects: [], // [{name, url, transport, state, detail}]
  me: new Map(), // project -> {user, role, device, auth_mode} (user null: not signed in)
  users: new Map(), // project -> Map(id -> User)
  presence: new Map(), // project -> Map(user_id -> Presence)
  composing: new Map(), // `${project}:${ticket}` -> Map(user_id -> {internal, until})
  agents: new Map(), // project -> [User] (support + admin), for assignee pickers
  version: "",
};

// -- projects and identities ----------------------------------------------------------------------
export function setProjects(list) {
  store.projects = list;
  const names = new Set(list.map((p) => p.name));
  for (const name of [...store.me.keys()]) if (!names.has(name)) store.me.delete(name);
  emit("projects", list);
}

export function project(name) {
  return store.projects.find((p) => p.name === name) || null;
}

export function setProjectState(name, state, detail) {
  const p = project(name);
  if (!p) return;
  p.state = state;
  p.detail = detail || "";
  emit("projects", store.projects);
}

export function me(projectName) {
  return store.me.get(projectName)?.user || null;
}

export function signedIn() {
  return store.projects.filter((p) => me(p.name)).map((p) => p.name);
}

export function isAgent(projectName) {
  const role = store.me.get(projectName)?.role;
  return role === "support" || role === "admin";
}

export function anyAgent() {
  return signedIn().some(isAgent);
}

export async function loadIdentity(projectName) {
  try {
    const who = await rpc(projectName, "auth.whoami");
    store.me.set(projectName, who);
    if (who.user) rememberUser(projectName, who.user);
  } catch (err) {
    store.me.set(projectName, { user: null, role: null, error: errorMessage(err) });
  }
  emit("identity", projectName);
  return store.me.get(projectName);
}

export async function refreshStatus() {
  const status = await ui("ui.status");
  store.version = status.version;
  setProjects(status.projects);
  return status;
}

// -- people ---------------------------------------------------------------------------------------
function usersOf(projectName) {
  if (!store.users.has(projectName)) store.users.set(projectName, new Map());
  return store.users.get(projectName);
}

export function rememberUser(projectName, user) {
  usersOf(projectName).set(user.id, user);
}

export function user(projectName, id) {
  return id == null ? null : usersOf(projectName).get(id) || null;
}

// A customer may not look up an agent who has not joined their ticket yet (the project decides who
// may read whom); such a person still shows up in presence, as what they must be: an agent.
export function userName(projectName, id, fallback = "Someone") {
  if (id == null) return "Nobody";
  const u = user(projectName, id);
  if (!u || u.unknown) return u?.unknown && !isAgent(projectName) ? "A support agent" : fallback;
  return u.display_name || u.email;
}

export function isKnown(projectName, id) {
  return usersOf(projectName).has(id);
}

const pendingUsers = new Map(); // project -> Promise, so concurrent views share one batch
// Look up the people behind ids not known yet. `retry`: also those a lookup was refused for before;
// an author or a member is visible now even if they were not a minute ago (someone joins a ticket by
// replying on it).
export async function ensureUsers(projectName, ids, { retry = false } = {}) {
  const known = usersOf(projectName);
  const wanted = (id) => id != null && (!known.has(id) || (retry && known.get(id).unknown));
  const missing = [...new Set(ids.filter(wanted))];
  if (!missing.length) return;
  const previous = pendingUsers.get(projectName) || Promise.resolve();
  const job = previous.then(async () => {
    const still = missing.filter(wanted);
    if (!still.length) return;
    const results = await batch(projectName, still.map((id) => ["user.get", { id }]));
    results.forEach((r, i) => {
      if (r.ok) known.set(r.value.id, r.value);
      else known.set(still[i], { id: still[i], display_name: "", email: "", role: null, unknown: true });
    });
  });
  pendingUsers.set(projectName, job.catch(() => {}));
  await job.catch(() => {});
}

export async function loadAgents(projectName) {
  if (!isAgent(projectName)) return [];
  if (store.agents.has(projectName)) return store.agents.get(projectName);
  const results = await batch(projectName, [
    ["user.list", { role: "support", limit: 200 }],
    ["user.list", { role: "admin", limit: 200 }],
  ]);
  const agents = results
    .filter((r) => r.ok)
    .flatMap((r) => r.value.items)
    .filter((u) => u.status === "active" && u.email !== "operator@localhost");
  agents.sort((a, b) => (a.display_name || a.email).localeCompare(b.display_name || b.email));
  for (const a of agents) rememberUser(projectName, a);
  store.agents.set(projectName, agents);
  return agents;
}

// -- presence -------------------------------------------------------------------------------------
function presenceOf(projectName) {
  if (!store.presence.has(projectName)) store.presence.set(projectName, new Map());
  return store.presence.get(projectName);
}

export async function loadPresence(projectName) {
  try {
    const page = await rpc(projectName, "presence.list", { limit: 200 });
    const map = presenceOf(projectName);
    for (const p of page.items) map.set(p.user_id, p);
    emit("presence", { project: projectName });
  } catch {
    /* presence is decoration: never block the app on it */
  }
}

export function presence(projectName, userId) {
  return presenceOf(projectName).get(userId) || null;
}

export function viewersOf(projectName, ticketId) {
  const mine = me(projectName)?.id;
  return [...presenceOf(projectName).values()]
    .filter((p) => p.viewing_ticket_id === ticketId && p.user_id !== mine && p.status !== "offline")
    .map((p) => p.user_id);
}

export function composersOf(projectName, ticketId) {
  const entry = store.composing.get(`${projectName}:${ticketId}`);
  if (!entry) return [];
  const now = Date.now();
  const mine = me(projectName)?.id;
  return [...entry.entries()].filter(([uid, c]) => c.until > now && uid !== mine).map(([uid, c]) => ({ userId: uid, internal: c.internal }));
}

// Apply a presence.* event to what we know.
export function applyPresenceEvent(projectName, event) {
  const d = event.data || {};
  const map = presenceOf(projectName);
  const current = map.get(d.user_id) || { user_id: d.user_id, status: "online", status_text: "", viewing_ticket_id: null, last_seen: event.ts };
  if (event.type === "presence.updated") {
    map.set(d.user_id, { ...current, status: d.status, status_text: d.status_text || "", last_seen: event.ts });
  } else if (event.type === "presence.viewing") {
    map.set(d.user_id, { ...current, viewing_ticket_id: d.ticket_id, status: current.status === "offline" ? "online" : current.status, last_seen: event.ts });
  } else if (event.type === "presence.composing") {
    const key = `${projectName}:${d.ticket_id}`;
    if (!store.composing.has(key)) store.composing.set(key, new Map());
    const entry = store.composing.get(key);
    if (d.composing) {
      // Our clock and the server's may differ: trust the announced lifetime, not its absolute time.
      const ttl = Math.max(1000, Math.min(15000, Date.parse(d.expires_at) - Date.parse(event.ts)));
      entry.set(d.user_id, { internal: !!d.internal, until: Date.now() + (Number.isFinite(ttl) ? ttl : 10000) });
    } else {
      entry.delete(d.user_id);
    }
  }
  emit("presence", { project: projectName, userId: d.user_id, ticketId: d.ticket_id ?? null });
}

export function stopComposing(projectName, ticketId, userId) {
  const entry = store.composing.get(`${projectName}:${ticketId}`);
  if (entry && entry.delete(userId)) emit("presence", { project: projectName, userId, ticketId });
}

// -- read markers ---------------------------------------------------------------------------------
// Per project, the last activity time of each ticket when I last looked at it. Kept in localStorage,
// bounded, so the markers survive a reload; they are this browser's notion of "read".
const SEEN_LIMIT = 5000;

function seenKey(projectName) {
  const uid = me(projectName)?.id ?? "anon";
  return `ha.seen.${projectName}.${uid}`;
}

function loadSeen(projectName) {
  try {
    return JSON.parse(localStorage.getItem(seenKey(projectName)) || "{}");
  } catch {
    return {};
  }
}

const seenCache = new Map();
function seenOf(projectName) {
  const key = seenKey(projectName);
  if (!seenCache.has(key)) seenCache.set(key, loadSeen(projectName));
  return seenCache.get(key);
}

export function markSeen(projectName, ticket) {
  const seen = seenOf(projectName);
  seen[ticket.id] = ticket.last_activity_at;
  const keys = Object.keys(seen);
  if (keys.length > SEEN_LIMIT) {
    keys.sort((a, b) => String(seen[a]).localeCompare(String(seen[b])));
    for (const k of keys.slice(0, keys.length - SEEN_LIMIT)) delete seen[k];
  }
  try {
    localStorage.setItem(seenKey(projectName), JSON.stringify(seen));
  } catch {
    /* storage full or disabled: markers last until reload */
  }
  emit("seen", { project: projectName, id: ticket.id });
}

export function isUnread(projectName, ticket) {
  const seen = seenOf(projectName)[ticket.id];
  if (seen) return ticket.last_activity_at > seen;
  // Never opened: unread unless I opened it myself and nothing happened since.
  const mine = me(projectName)?.id;
  return !(ticket.created_by === mine && ticket.comment_count === 0);
}

// -- preferences ----------------------------------------------------------------------------------
export function pref(key, fallback) {
  try {
    const v = localStorage.getItem(`ha.pref.${key}`);
    return v === null ? fallback : JSON.parse(v);
  } catch {
    return fallback;
  }
}

export function setPref(key, value) {
  try {
    localStorage.setItem(`ha.pref.${key}`, JSON.stringify(value));
  } catch {
    /* private mode: preferences last for this visit */
  }
}
