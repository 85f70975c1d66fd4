// The consolidated inbox: tickets of every signed-in project merged into one list, newest activity
// first, paged from the servers (never loaded whole), updated live.
//
// Each (project, status) pair is a "source" with its own cursor; the list is a k-way merge of the
// sources' heads by (last_activity_at, id), which is exactly the order each server pages in, so
// page N of the merge never needs page N+1 of any source. Filters the servers do not offer (priority)
// are applied to the merged stream, pulling further pages until the screen is full.

import { batch, rpc } from "../api.js";
import { $, clear, h, replace } from "../dom.js";
import {
  avatar,
  priorityBadge,
  PRIORITY_RANK,
  projectChip,
  statusBadge,
  tagChip,
  ticketPath,
  timeEl,
} from "../format.js";
import { icon } from "../icons.js";
import { navigate, parseRoute } from "../router.js";
import {
  anyAgent,
  emit,
  ensureUsers,
  isAgent,
  isUnread,
  loadAgents,
  me,
  on,
  pref,
  setPref,
  signedIn,
  userName,
} from "../store.js";
import { toastError } from "../toast.js";

const PAGE = 50;
const MAX_PULLS = 12; // pages fetched per fill at most, so a rare filter cannot loop for long

export const PRESETS = [
  { id: "inbox", label: "Inbox", icon: "inbox", filters: { status: "active", mine: false, archived: false } },
  { id: "mine", label: "Mine", icon: "user", agentOnly: true, filters: { status: "active", mine: true, archived: false } },
  { id: "resolved", label: "Resolved", icon: "check", filters: { status: "resolved", mine: false, archived: false } },
  { id: "closed", label: "Closed", icon: "lock", filters: { status: "closed", mine: false, archived: false } },
  { id: "all", label: "All tickets", icon: "message", filters: { status: "any", mine: false, archived: false } },
  { id: "archived", label: "Archived", icon: "archive", agentOnly: true, filters: { status: "any", mine: false, archived: true } },
];

const DEFAULT_FILTERS = { project: "", status: "active", priority: "", assignee: "", mine: false, archived: false, query: "", sort: "activity" };

export const inbox = {
  filters: { ...DEFAULT_FILTERS, ...pref("filters", {}), query: "" },
  rows: [], // merged, deduplicated tickets: {project, ticket}
  sources: [],
  exhausted: false,
  loading: false,
  generation: 0,
  selected: null, // "project:id"
  listEl: null,
  headerEl: null,
  fresh: new Set(), // keys inserted live, highlighted once
};

const key = (project, id) => `${project}:${id}`;

function activeStatuses(status) {
  if (status === "active") return ["open", "pending"];
  if (status === "any") return [null];
  return [status];
}

export function currentPreset() {
  const f = inbox.filters;
  return PRESETS.find((p) => Object.entries(p.filters).every(([k, v]) => f[k] === v))?.id || null;
}

export function setFilters(changes) {
  Object.assign(inbox.filters, changes);
  const { query, ...keep } = inbox.filters;
  setPref("filters", keep);
  emit("filters", inbox.filters);
  reload();
}

// -- matching ---------------------------------------------------------------------------------
function assigneeIdIn(project) {
  const email = inbox.filters.assignee;
  if (!email) return undefined;
  if (email === "__none__") return null;
  const agent = [...(inboxAgents.get(project) || [])].find((a) => a.email === email);
  return agent ? agent.id : -1; // -1: this project has no such agent, nothing can match
}

function matches(project, ticket) {
  const f = inbox.filters;
  if (!signedIn().includes(project)) return false;
  if (f.project && f.project !== project) return false;
  if (!!ticket.archived !== !!f.archived) return false;
  const statuses = activeStatuses(f.status);
  if (statuses[0] !== null && !statuses.includes(ticket.status)) return false;
  if (f.priority && ticket.priority !== f.priority) return false;
  const mine = me(project)?.id;
  if (f.mine && ticket.assignee_id !== mine && ticket.created_by !== mine) return false;
  const assignee = assigneeIdIn(project);
  if (assignee !== undefined && ticket.assignee_id !== assignee) return false;
  if (f.query) return false; // search results are not updated live; the list says so
  return true;
}

function compareActivity(a, b) {
  if (a.ticket.last_activity_at !== b.ticket.last_activity_at) return a.ticket.last_activity_at < b.ticket.last_activity_at ? 1 : -1;
  return b.ticket.id - a.ticket.id;
}

const SORTS = {
  activity: compareActivity,
  priority: (a, b) => PRIORITY_RANK[a.ticket.priority] - PRIORITY_RANK[b.ticket.priority] || compareActivity(a, b),
  newest: (a, b) => (a.ticket.created_at < b.ticket.created_at ? 1 : a.ticket.created_at > b.ticket.created_at ? -1 : 0),
  oldest: (a, b) => (a.ticket.created_at > b.ticket.created_at ? 1 : a.ticket.created_at < b.ticket.created_at ? -1 : 0),
};

function sortedRows() {
  return [...inbox.rows].sort(SORTS[inbox.filters.sort] || compareActivity);
}

// -- loading ----------------------------------------------------------------------------------
const inboxAgents = new Map(); // project -> agents, for the assignee filter

function ftsQuery(text) {
  // Each word as a quoted prefix term: what people type never trips FTS5 syntax ("C++", "don't").
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => `"${w.replaceAll('"', '""')}"*`)
    .join(" ");
}

function buildSources() {
  const f = inbox.filters;
  const projects = signedIn().filter((p) => !f.project || f.project === p);
  const sources = [];
  for (const project of projects) {
    const params = { archived: !!f.archived, limit: PAGE };
    if (f.mine) params.mine = true;
    if (f.query) params.query = ftsQuery(f.query);
    const assignee = assigneeIdIn(project);
    if (assignee === -1) continue;
    if (assignee !== undefined && assignee !== null) params.assignee_id = assignee;
    for (const status of activeStatuses(f.status)) {
      sources.push({ project, params: status ? { ...params, status } : params, buffer: [], cursor: null, done: false });
    }
  }
  return sources;
}

async function pull(sources, generation) {
  // One page for every source whose buffer ran dry, all projects in parallel.
  const byProject = new Map();
  for (const s of sources) {
    if (s.done || s.buffer.length) continue;
    if (!byProject.has(s.project)) byProject.set(s.project, []);
    byProject.get(s.project).push(s);
  }
  await Promise.all(
    [...byProject.entries()].map(async ([project, list]) => {
      let results;
      try {
        results = await batch(project, list.map((s) => ["ticket.list", s.cursor ? { ...s.params, cursor: s.cursor } : s.params]));
      } catch (err) {
        results = list.map(() => ({ ok: false, error: err }));
      }
      if (generation !== inbox.generation) return;
      results.forEach((r, i) => {
        const s = list[i];
        if (!r.ok) {
          s.done = true;
          s.error = r.error;
          return;
        }
        s.buffer.push(...r.value.items);
        s.cursor = r.value.next_cursor;
        s.done = !s.cursor;
      });
    }),
  );
  const failed = sources.filter((s) => s.error && !s.reported);
  for (const s of failed) {
    s.reported = true;
    toastError(s.error, `Cannot load tickets from ${s.project}`);
  }
}

async function fill(count, generation) {
  const want = inbox.rows.length + count;
  const seen = new Set(inbox.rows.map((r) => key(r.project, r.ticket.id)));
  let pulls = 0;
  while (inbox.rows.length < want) {
    const needy = inbox.sources.some((s) => !s.done && !s.buffer.length);
    if (needy) {
      if (pulls++ >= MAX_PULLS) break;
      await pull(inbox.sources, generation);
      if (generation !== inbox.generation) return;
      continue;
    }
    let best = null;
    for (const s of inbox.sources) {
      if (!s.buffer.length) continue;
      if (!best || compareActivity({ ticket: s.buffer[0] }, { ticket: best.buffer[0] }) < 0) best = s;
    }
    if (!best) break;
    const ticket = best.buffer.shift();
    const k = key(best.project, ticket.id);
    if (seen.has(k)) continue;
    if (inbox.filters.priority && ticket.priority !== inbox.filters.priority) continue;
    seen.add(k);
    inbox.rows.push({ project: best.project, ticket });
  }
  inbox.exhausted = inbox.sources.every((s) => s.done && !s.buffer.length);
}

export async function reload() {
  const generation = ++inbox.generation;
  inbox.rows = [];
  inbox.fresh.clear();
  inbox.exhausted = false;
  inbox.loading = true;
  renderList();
  // The agents are needed up front only to map an assignee filter to each project's user ids.
  const agents = Promise.all(signedIn().filter(isAgent).map(async (p) => inboxAgents.set(p, await loadAgents(p).catch(() => []))));
  if (inbox.filters.assignee) await agents;
  else agents.then(() => emit("agents-loaded"));
  inbox.sources = buildSources();
  await fill(PAGE, generation);
  if (generation !== inbox.generation) return;
  inbox.loading = false;
  await resolvePeople(inbox.rows);
  if (generation !== inbox.generation) return;
  renderList();
}

async function loadMore() {
  if (inbox.loading || inbox.exhausted) return;
  const generation = inbox.generation;
  inbox.loading = true;
  renderFooter();
  await fill(PAGE, generation);
  if (generation !== inbox.generation) return;
  inbox.loading = false;
  await resolvePeople(inbox.rows);
  renderList();
}

async function resolvePeople(rows) {
  const byProject = new Map();
  for (const { project, ticket } of rows) {
    if (!byProject.has(project)) byProject.set(project, []);
    byProject.get(project).push(ticket.created_by, ticket.assignee_id);
  }
  await Promise.all([...byProject.entries()].map(([p, ids]) => ensureUsers(p, ids)));
}

// -- rendering --------------------------------------------------------------------------------
function placeholderRows() {
  return Array.from({ length: 8 }, () =>
    h("div.ticket-row.placeholder-glow", { "aria-hidden": "true" },
      h("div.ticket-row-main",
        h("div.d-flex.gap-2.mb-2", h("span.placeholder.col-2.rounded"), h("span.placeholder.col-7.rounded")),
        h("div.d-flex.gap-2", h("span.placeholder.placeholder-sm.col-4.rounded"), h("span.placeholder.placeholder-sm.col-3.rounded")))),
  );
}

function rowEl({ project, ticket }) {
  const k = key(project, ticket.id);
  const unread = isUnread(project, ticket);
  const route = parseRoute();
  const open = route.name === "ticket" && route.project === project && route.id === ticket.id;
  const classes = ["ticket-row"];
  if (unread) classes.push("unread");
  if (open) classes.push("active");
  if (inbox.selected === k) classes.push("selected");
  if (inbox.fresh.has(k)) classes.push("fresh");
  const row = h(
    "a",
    {
      class: classes.join(" "),
      href: ticketPath(project, ticket.id),
      dataset: { link: "1", key: k, project, id: String(ticket.id) },
      "aria-current": open ? "page" : null,
    },
    h("span.unread-dot", { title: unread ? "Unread" : "", "aria-label": unread ? "unread" : null }),
    h(
      "div.ticket-row-main",
      h(
        "div.ticket-row-top",
        projectChip(project),
        h("span.ticket-id", `#${ticket.id}`),
        h("span.ticket-title", ticket.title),
      ),
      h(
        "div.ticket-row-meta",
        h("span.requester", userName(project, ticket.created_by)),
        h("span.sep", "·"),
        timeEl(ticket.last_activity_at),
        ticket.comment_count && isAgent(project) ? h("span.comment-count", { title: `${ticket.comment_count} replies` }, icon("message"), String(ticket.comment_count)) : null,
        (ticket.tags ?? []).slice(0, 2).map(tagChip), // customers are shown no tags
      ),
    ),
    h(
      "div.ticket-row-side",
      statusBadge(ticket.status),
      priorityBadge(ticket.priority, { quiet: true }),
      ticket.assignee_id ? avatar(project, ticket.assignee_id, "sm") : isAgent(project) ? h("span.avatar.avatar-sm.avatar-empty", { title: "Unassigned" }, "–") : null,
    ),
  );
  return row;
}

function renderHeader() {
  const el = inbox.headerEl;
  if (!el) return;
  const preset = PRESETS.find((p) => p.id === currentPreset());
  const title = inbox.filters.query ? `Search: “${inbox.filters.query}”` : preset ? preset.label : "Filtered tickets";
  replace($(".list-title", el), title);
  const count = inbox.loading ? "" : `${inbox.rows.length}${inbox.exhausted ? "" : "+"}`;
  replace($(".list-count", el), count);
}

function renderFooter() {
  const footer = $(".list-footer", inbox.listEl.parentElement);
  if (!footer) return;
  clear(footer);
  if (!inbox.rows.length) return;
  if (inbox.loading) footer.append(h("div.text-center.py-3", h("span.spinner-border.spinner-border-sm"), " Loading…"));
  else if (!inbox.exhausted) footer.append(h("button.btn.btn-link.w-100", { type: "button", onclick: loadMore }, "Load more"));
  else footer.append(h("div.text-center.text-body-secondary.small.py-3", "That’s everything."));
}

export function renderList() {
  const el = inbox.listEl;
  if (!el) return;
  renderHeader();
  if (inbox.loading && !inbox.rows.length) {
    replace(el, placeholderRows());
    renderFooter();
    return;
  }
  if (!signedIn().length) {
    replace(el, h("div.empty-state", icon("user", "empty-icon"), h("p", "Sign in to see your tickets."), h("a.btn.btn-primary", { href: "/signin", dataset: { link: "1" } }, "Sign in")));
    renderFooter();
    return;
  }
  if (!inbox.rows.length) {
    const message = inbox.filters.query ? "No tickets match your search." : "Nothing here. Enjoy the calm.";
    replace(el, h("div.empty-state", icon("inbox", "empty-icon"), h("p.mb-1", message),
      h("p.small.text-body-secondary", anyAgent() ? "New tickets appear here the moment they arrive." : "Need help? Open a ticket and we’ll get back to you."),
      h("a.btn.btn-outline-primary.btn-sm", { href: "/new", dataset: { link: "1" } }, icon("plus"), " New ticket")));
    renderFooter();
    return;
  }
  replace(el, sortedRows().map(rowEl));
  inbox.fresh.clear();
  renderFooter();
  emit("unread", inbox.rows.filter((r) => isUnread(r.project, r.ticket)).length);
}

function rerenderRow(k) {
  const old = inbox.listEl?.querySelector(`[data-key="${CSS.escape(k)}"]`);
  const entry = inbox.rows.find((r) => key(r.project, r.ticket.id) === k);
  if (old && entry) old.replaceWith(rowEl(entry));
}

// -- live updates -----------------------------------------------------------------------------
function upsert(project, ticket, { fresh = false } = {}) {
  const k = key(project, ticket.id);
  const index = inbox.rows.findIndex((r) => key(r.project, r.ticket.id) === k);
  if (!matches(project, ticket)) {
    if (index >= 0) inbox.rows.splice(index, 1);
    return index >= 0;
  }
  if (index >= 0) inbox.rows[index] = { project, ticket };
  else {
    inbox.rows.push({ project, ticket });
    if (fresh) inbox.fresh.add(k);
  }
  return true;
}

let renderTimer = null;
function scheduleRender() {
  if (renderTimer) return;
  renderTimer = requestAnimationFrame(() => {
    renderTimer = null;
    renderList();
  });
}

async function onEvent({ project, event }) {
  if (inbox.loading) return;
  const d = event.data || {};
  switch (event.type) {
    case "ticket.created":
    case "ticket.updated":
    case "ticket.archived":
    case "ticket.unarchived":
      if (d.ticket) {
        await ensureUsers(project, [d.ticket.created_by, d.ticket.assignee_id]);
        if (upsert(project, d.ticket, { fresh: event.type === "ticket.created" })) scheduleRender();
      }
      break;
    case "ticket.deleted": {
      const before = inbox.rows.length;
      inbox.rows = inbox.rows.filter((r) => !(r.project === project && r.ticket.id === event.ticket_id));
      if (inbox.rows.length !== before) scheduleRender();
      break;
    }
    case "comment.created":
    case "member.added": {
      const entry = inbox.rows.find((r) => r.project === project && r.ticket.id === event.ticket_id);
      if (entry && event.type === "comment.created") {
        entry.ticket = { ...entry.ticket, last_activity_at: event.ts, comment_count: entry.ticket.comment_count + 1 };
        scheduleRender();
      } else if (!entry) {
        try {
          const ticket = await rpc(project, "ticket.get", { id: event.ticket_id });
          await ensureUsers(project, [ticket.created_by, ticket.assignee_id]);
          if (upsert(project, ticket, { fresh: true })) scheduleRender();
        } catch {
          /* gone or not visible */
        }
      }
      break;
    }
    case "member.removed":
      if (d.user_id === me(project)?.id && !isAgent(project)) {
        inbox.rows = inbox.rows.filter((r) => !(r.project === project && r.ticket.id === event.ticket_id));
        scheduleRender();
      }
      break;
    default:
      break;
  }
}

// -- keyboard selection ------------------------------------------------------------------------
export function moveSelection(delta) {
  const rows = sortedRows();
  if (!rows.length) return;
  let index = rows.findIndex((r) => key(r.project, r.ticket.id) === inbox.selected);
  if (index < 0) {
    const route = parseRoute();
    index = route.name === "ticket" ? rows.findIndex((r) => r.project === route.project && r.ticket.id === route.id) : -1;
  }
  index = Math.max(0, Math.min(rows.length - 1, index + delta));
  const previous = inbox.selected;
  inbox.selected = key(rows[index].project, rows[index].ticket.id);
  if (previous) rerenderRow(previous);
  rerenderRow(inbox.selected);
  inbox.listEl.querySelector(`[data-key="${CSS.escape(inbox.selected)}"]`)?.scrollIntoView({ block: "nearest" });
  if (index >= rows.length - 3 && !inbox.exhausted) loadMore();
}

export function openSelection() {
  if (!inbox.selected) return false;
  const [project, id] = inbox.selected.split(/:(?=\d+$)/);
  navigate(ticketPath(project, Number(id)));
  return true;
}

// -- the pane ---------------------------------------------------------------------------------
function filterBar() {
  const f = inbox.filters;
  const select = (name, label, options, value) =>
    h("select.form-select.form-select-sm", {
      "aria-label": label,
      name,
      onchange: (e) => setFilters({ [name]: e.target.value }),
    }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  const projects = signedIn();
  const agentEmails = new Map();
  for (const p of projects) for (const a of inboxAgents.get(p) || []) agentEmails.set(a.email, a.display_name || a.email);
  const bar = h("div.filter-bar",
    projects.length > 1 ? select("project", "Filter by project", [["", "All projects"], ...projects.map((p) => [p, p])], f.project) : null,
    select("status", "Filter by status", [["active", "Active"], ["open", "Open"], ["pending", "Pending"], ["resolved", "Resolved"], ["closed", "Closed"], ["any", "Any status"]], f.status),
    select("sort", "Sort by", [["activity", "Recent"], ["priority", "Priority"], ["newest", "Newest"], ["oldest", "Oldest"]], f.sort),
    select("priority", "Filter by priority", [["", "Any priority"], ["urgent", "Urgent"], ["high", "High"], ["normal", "Normal"], ["low", "Low"]], f.priority),
    anyAgent() ? select("assignee", "Filter by assignee", [["", "Anyone"], ...[...agentEmails.entries()].map(([email, name]) => [email, name])], f.assignee) : null,
    anyAgent()
      ? h("input.btn-check", { type: "checkbox", id: "filter-mine", checked: f.mine, onchange: (e) => setFilters({ mine: e.target.checked }) })
      : null,
    anyAgent() ? h("label.btn.btn-sm.btn-outline-secondary.filter-mine", { for: "filter-mine", title: "Assigned to me or opened by me" }, icon("user"), " Mine") : null,
  );
  return bar;
}

export function mountInbox(pane) {
  let searchTimer = null;
  const search = h("input.form-control.form-control-sm", {
    type: "search",
    id: "inbox-search",
    placeholder: "Search tickets and replies…   /",
    "aria-label": "Search tickets",
    value: inbox.filters.query,
    oninput: (e) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => setFilters({ query: e.target.value.trim() }), 250);
    },
    onkeydown: (e) => {
      if (e.key === "Escape") {
        e.target.value = "";
        setFilters({ query: "" });
        e.target.blur();
      }
    },
  });
  const filters = h("div.filters-slot");
  inbox.headerEl = h("div.list-header",
    h("div.d-flex.align-items-baseline.gap-2.mb-2",
      h("h1.list-title.h5.mb-0", "Inbox"),
      h("span.list-count.badge.text-bg-secondary.rounded-pill"),
      h("button.btn.btn-sm.btn-link.ms-auto.p-0.refresh-btn", { type: "button", title: "Refresh", "aria-label": "Refresh", onclick: () => reload() }, icon("refresh"))),
    h("div.search-box", icon("search", "search-icon"), search),
    filters);
  inbox.listEl = h("div.ticket-list", { role: "list", id: "ticket-list" });
  replace(pane, inbox.headerEl, h("div.list-scroll", inbox.listEl, h("div.list-footer")));
  const renderFilters = () => replace(filters, filterBar());
  renderFilters();
  on("filters", renderFilters);
  on("identity", renderFilters);
  on("event", onEvent);
  on("seen", ({ project, id }) => rerenderRow(key(project, id)));
  on("resync", () => reload());
  on("agents-loaded", renderFilters);
  // Infinite scroll, with the button as the fallback.
  pane.querySelector(".list-scroll").addEventListener("scroll", (e) => {
    const s = e.target;
    if (s.scrollTop + s.clientHeight > s.scrollHeight - 200) loadMore();
  });
  return { reload: async () => { await reload(); renderFilters(); } };
}
