// The app shell: boot (session, identities, sign-in tokens from the URL), the layout (sidebar, inbox,
// detail pane), routing between views, keyboard shortcuts, and the live connection.

import { errorMessage, rpc } from "./api.js";
import { $, h, replace } from "./dom.js";
import { hue, projectChip, relativeTime } from "./format.js";
import { icon } from "./icons.js";
import { connectLive, liveState, resubscribe } from "./live.js";
import { navigate, onRoute, parseRoute } from "./router.js";
import { anyAgent, isAgent, loadIdentity, me, on, refreshStatus, signedIn, store } from "./store.js";
import { applyTheme, effectiveTheme } from "./theme-switch.js";
import { toastError } from "./toast.js";
import { currentPreset, inbox, mountInbox, moveSelection, openSelection, PRESETS, reload as reloadInbox, setFilters } from "./views/inbox.js";
import { mountNewTicket } from "./views/newticket.js";
import { mountSettings, SHORTCUTS } from "./views/settings.js";
import { consumeTokens, mountSignIn, tokensFrom } from "./views/signin.js";
import { mountTicket } from "./views/ticket.js";

const app = document.getElementById("app");
let shell = null; // {sidebar, list, detail}
let detail = null; // the mounted detail view: {destroy, focusComposer?}
let detailKey = "";
let counts = new Map(); // project -> project.info counts

// -- layout -----------------------------------------------------------------------------------
function navbar() {
  const states = h("div.conn-states.d-flex.align-items-center.gap-1", { id: "conn-states" });
  const themeBtn = h("button.btn.btn-icon", {
    type: "button",
    id: "theme-toggle",
    title: "Switch light / dark",
    "aria-label": "Switch light or dark theme",
    onclick: () => {
      applyTheme(effectiveTheme() === "dark" ? "light" : "dark");
      replace(themeBtn, icon(effectiveTheme() === "dark" ? "sun" : "moon"));
    },
  }, icon(effectiveTheme() === "dark" ? "sun" : "moon"));
  const userMenu = h("div.dropdown", { id: "user-menu" });
  return h("header.app-navbar",
    h("button.btn.btn-icon.d-xl-none", { type: "button", "aria-label": "Menu", dataset: { bsToggle: "offcanvas", bsTarget: "#sidebar" } }, icon("menu")),
    h("a.brand", { href: "/", dataset: { link: "1" } }, h("span.brand-mark", icon("life")), h("span.brand-name", "Hero Assistance")),
    h("span.flex-grow-1"),
    h("span.live-banner.badge.text-bg-warning.d-none", { id: "live-banner" }, "Reconnecting…"),
    states,
    h("a.btn.btn-primary.btn-sm.new-ticket-btn", { href: "/new", dataset: { link: "1" } }, icon("plus"), h("span.d-none.d-sm-inline", " New ticket")),
    themeBtn,
    userMenu);
}

function renderConnStates() {
  const el = $("#conn-states");
  if (!el) return;
  replace(el, store.projects.map((p) =>
    h(`span.conn-dot.conn-${p.state || "connecting"}`, { title: `${p.name}: ${p.state || "connecting"}${p.detail ? ` — ${p.detail}` : ""}`, dataset: { project: p.name } })));
  $("#live-banner")?.classList.toggle("d-none", liveState.connected);
}

function renderUserMenu() {
  const el = $("#user-menu");
  if (!el) return;
  const first = signedIn()[0];
  const who = first ? me(first) : null;
  const label = who ? who.display_name || who.email : "Sign in";
  replace(el,
    h("button.btn.btn-icon.dropdown-toggle.user-toggle", { type: "button", dataset: { bsToggle: "dropdown" }, "aria-expanded": "false", "aria-label": "Account" },
      h("span.avatar.avatar-sm", { style: { "--avatar-hue": String(hue(who?.email || "?")) } }, (label[0] || "?").toUpperCase())),
    h("ul.dropdown-menu.dropdown-menu-end.shadow",
      store.projects.map((p) => {
        const u = me(p.name);
        return h("li", h("span.dropdown-item-text.small",
          projectChip(p.name), " ",
          u ? [h("strong", u.display_name || u.email), h("span.text-body-secondary", ` · ${store.me.get(p.name)?.role}`)] : h("span.text-body-secondary", "not signed in")));
      }),
      h("li", h("hr.dropdown-divider")),
      store.projects.some((p) => !me(p.name)) ? h("li", h("a.dropdown-item", { href: "/signin", dataset: { link: "1" } }, icon("user"), " Sign in to more projects")) : null,
      h("li", h("a.dropdown-item", { href: "/settings", dataset: { link: "1" } }, icon("settings"), " Settings")),
      h("li", h("button.dropdown-item", { type: "button", onclick: showShortcuts }, icon("keyboard"), " Keyboard shortcuts"))));
}

function sidebar() {
  return h("nav.app-sidebar.offcanvas-xl.offcanvas-start", { id: "sidebar", tabindex: "-1", "aria-label": "Views" },
    h("div.offcanvas-header.d-xl-none", h("span.fw-semibold", "Hero Assistance"), h("button.btn-close", { type: "button", dataset: { bsDismiss: "offcanvas", bsTarget: "#sidebar" }, "aria-label": "Close" })),
    h("div.offcanvas-body.flex-column", h("div.sidebar-content.w-100", { id: "sidebar-content" })));
}

function closeSidebar() {
  const el = document.getElementById("sidebar");
  if (el && el.classList.contains("show")) window.bootstrap.Offcanvas.getInstance(el)?.hide();
}

function presetCount(id) {
  const sum = (k) => [...counts.values()].reduce((n, c) => n + (c[k] || 0), 0);
  switch (id) {
    case "inbox":
      return sum("open") + sum("pending");
    case "resolved":
      return sum("resolved");
    case "closed":
      return sum("closed");
    case "all":
      return sum("tickets");
    default:
      return null;
  }
}

function renderSidebar() {
  const el = $("#sidebar-content");
  if (!el) return;
  const active = currentPreset();
  const agent = anyAgent();
  replace(el,
    h("div.sidebar-section",
      h("div.sidebar-label", agent ? "Views" : "My tickets"),
      h("ul.nav.flex-column.sidebar-nav",
        PRESETS.filter((p) => agent || !p.agentOnly).map((p) => {
          const n = presetCount(p.id);
          return h("li.nav-item", h(`button.nav-link${active === p.id ? ".active" : ""}`, {
            type: "button",
            dataset: { preset: p.id },
            onclick: () => {
              setFilters({ ...p.filters });
              closeSidebar();
              if (parseRoute().name !== "inbox" && window.innerWidth < 768) navigate("/");
            },
          }, icon(p.icon), h("span.flex-grow-1", p.label), n ? h("span.nav-count", String(n)) : null));
        }))),
    h("div.sidebar-section",
      h("div.sidebar-label", "Projects"),
      h("ul.nav.flex-column.sidebar-nav",
        store.projects.map((p) => {
          const signed = !!me(p.name);
          const selected = inbox.filters.project === p.name;
          return h("li.nav-item", h(`button.nav-link${selected ? ".active" : ""}`, {
            type: "button",
            dataset: { project: p.name },
            title: signed ? `Only ${p.name}` : `Sign in to ${p.name}`,
            onclick: () => {
              if (!signed) return navigate(`/signin?project=${encodeURIComponent(p.name)}`);
              setFilters({ project: selected ? "" : p.name });
              closeSidebar();
            },
          },
          h(`span.conn-dot.conn-${p.state || "connecting"}`),
          h("span.flex-grow-1.text-truncate", p.name),
          signed ? h("span.small.text-body-secondary", isAgent(p.name) ? "agent" : "") : h("span.small.text-primary", "sign in")));
        }),
        h("li.nav-item", h("a.nav-link.text-body-secondary", { href: "/settings", dataset: { link: "1" } }, icon("plus"), h("span", "Add project"))))),
    h("div.sidebar-footer.small.text-body-secondary",
      h("button.btn.btn-link.btn-sm.p-0.text-body-secondary", { type: "button", onclick: showShortcuts }, icon("keyboard"), " Shortcuts ", h("kbd", "?"))));
}

let countsTimer = null;
function refreshCounts() {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(async () => {
    const projects = signedIn();
    const results = await Promise.all(projects.map((p) => rpc(p, "project.info").catch(() => null)));
    counts = new Map(projects.map((p, i) => [p, results[i]?.counts || {}]));
    renderSidebar();
  }, 400);
}

function mountShell() {
  if (shell) return shell;
  const list = h("section.list-pane", { id: "list-pane", "aria-label": "Tickets" });
  const detailPane = h("main.detail-pane", { id: "detail-pane" });
  replace(app, navbar(), h("div.app-body", sidebar(), list, detailPane));
  app.classList.remove("app-loading");
  shell = { list, detail: detailPane };
  mountInbox(list);
  reloadInbox();
  renderConnStates();
  renderUserMenu();
  renderSidebar();
  refreshCounts();
  return shell;
}

function emptyDetail() {
  const agent = anyAgent();
  return h("div.empty-state.detail-empty",
    h("div.empty-illustration", icon("inbox")),
    h("h2.h5", agent ? "Pick a ticket to start" : "How can we help?"),
    h("p.text-body-secondary", agent ? "Every project’s tickets land in one inbox. New ones appear the moment they arrive." : "Open a ticket and follow the answers here, live."),
    h("div.d-flex.gap-2.justify-content-center",
      h("a.btn.btn-primary", { href: "/new", dataset: { link: "1" } }, icon("plus"), " New ticket"),
      h("button.btn.btn-outline-secondary", { type: "button", onclick: showShortcuts }, icon("keyboard"), " Shortcuts")));
}

// -- routing ----------------------------------------------------------------------------------
function route(r = parseRoute()) {
  if (r.name === "signin" || (!signedIn().length && r.name !== "settings")) {
    destroyDetail();
    shell = null;
    const wanted = new URLSearchParams(location.search).get("project");
    detail = mountSignIn(app, {
      wanted,
      onSignedIn: async (projects) => {
        resubscribe(projects);
        await afterSignIn();
        navigate("/", { replace: true });
        route();
      },
    });
    detailKey = "signin";
    app.classList.remove("app-loading");
    return;
  }
  const { detail: pane } = mountShell();
  const key = r.name === "ticket" ? `ticket:${r.project}:${r.id}` : r.name;
  document.body.classList.toggle("detail-open", r.name !== "inbox");
  if (key === detailKey) return;
  destroyDetail();
  detailKey = key;
  if (r.name === "ticket") {
    if (!store.projects.some((p) => p.name === r.project)) {
      replace(pane, h("div.empty-state", icon("alert", "empty-icon"), h("p", `This app is not connected to a project called “${r.project}”.`), h("a.btn.btn-outline-primary.btn-sm", { href: "/settings", dataset: { link: "1" } }, "Add it in Settings")));
    } else if (!me(r.project)) {
      replace(pane, h("div.empty-state", icon("user", "empty-icon"), h("p", `Sign in to ${r.project} to see this ticket.`), h("a.btn.btn-primary.btn-sm", { href: `/signin?project=${encodeURIComponent(r.project)}`, dataset: { link: "1" } }, "Sign in")));
    } else {
      detail = mountTicket(pane, r.project, r.id);
    }
  } else if (r.name === "new") detail = mountNewTicket(pane);
  else if (r.name === "settings") detail = mountSettings(pane);
  else replace(pane, emptyDetail());
  // Highlight the open ticket in the list.
  for (const row of document.querySelectorAll(".ticket-row.active")) row.classList.remove("active");
  if (r.name === "ticket") document.querySelector(`.ticket-row[data-key="${CSS.escape(`${r.project}:${r.id}`)}"]`)?.classList.add("active");
}

function destroyDetail() {
  if (detail && detail.destroy) detail.destroy();
  detail = null;
  detailKey = "";
}

async function afterSignIn() {
  for (const p of signedIn()) rpc(p, "presence.update", { status: "online" }).catch(() => {});
  renderUserMenu();
  renderSidebar();
  refreshCounts();
  if (shell) reloadInbox();
}

// -- keyboard ---------------------------------------------------------------------------------
function showShortcuts() {
  const modal = h("div.modal.fade", { tabindex: "-1", "aria-label": "Keyboard shortcuts" },
    h("div.modal-dialog.modal-dialog-centered",
      h("div.modal-content",
        h("div.modal-header", h("h2.modal-title.h5", "Keyboard shortcuts"), h("button.btn-close", { type: "button", dataset: { bsDismiss: "modal" }, "aria-label": "Close" })),
        h("div.modal-body", h("dl.shortcuts.mb-0", SHORTCUTS.flatMap(([k, d]) => [h("dt", h("kbd", k)), h("dd", d)]))))));
  document.body.append(modal);
  modal.addEventListener("hidden.bs.modal", () => modal.remove());
  window.bootstrap.Modal.getOrCreateInstance(modal).show();
}

document.addEventListener("keydown", (e) => {
  const t = e.target instanceof Element ? e.target : null;
  const typing = t?.closest("input, textarea, select, [contenteditable]");
  if (typing || e.ctrlKey || e.metaKey || e.altKey || !shell) return;
  if (document.querySelector(".modal.show")) return;
  switch (e.key) {
    case "j":
    case "ArrowDown":
      moveSelection(1);
      break;
    case "k":
    case "ArrowUp":
      moveSelection(-1);
      break;
    case "Enter":
      if (!openSelection()) return;
      break;
    case "u":
    case "Escape":
      if (parseRoute().name === "inbox") return;
      navigate("/");
      break;
    case "/":
      $("#inbox-search")?.focus();
      break;
    case "c":
      navigate("/new");
      break;
    case "r":
      if (!detail?.focusComposer) return;
      detail.focusComposer();
      break;
    case "?":
      showShortcuts();
      break;
    default:
      return;
  }
  e.preventDefault();
});

// -- boot -------------------------------------------------------------------------------------
async function boot() {
  applyTheme();
  try {
    // First, and alone: the ui mints this browser's session cookie on its first /rpc call, and
    // parallel first calls would each get a different one.
    await refreshStatus();
  } catch (err) {
    replace(app, h("div.empty-state.fatal", icon("alert", "empty-icon"), h("h1.h5", "The app’s server is not answering"), h("p.text-body-secondary", errorMessage(err)), h("button.btn.btn-primary", { type: "button", onclick: () => location.reload() }, "Try again")));
    app.classList.remove("app-loading");
    return;
  }
  const tokens = tokensFrom(location.href);
  if (tokens.length) {
    // Out of the address bar (and history) at once: a sign-in token is a secret, and single use.
    const clean = new URLSearchParams(location.search);
    clean.delete("token");
    clean.delete("project");
    history.replaceState(null, "", location.pathname === "/signin" ? "/" : location.pathname + (clean.toString() ? `?${clean}` : ""));
  }
  await Promise.all(store.projects.map((p) => loadIdentity(p.name)));
  if (tokens.length) await consumeTokens(tokens);
  connectLive();
  await afterSignIn();
  route();
}

on("projects", () => {
  renderConnStates();
  renderSidebar();
});
on("projects-changed", async (projects) => {
  await Promise.all(projects.filter((p) => !store.me.has(p.name)).map((p) => loadIdentity(p.name)));
  renderUserMenu();
  renderSidebar();
  if (shell) reloadInbox();
});
on("identity", () => {
  renderUserMenu();
  renderSidebar();
});
on("filters", renderSidebar);
// The tab's title counts unread tickets in the list, so a waiting customer shows in the tab bar.
on("unread", (count) => {
  if (parseRoute().name !== "ticket") document.title = count ? `(${count}) Hero Assistance` : "Hero Assistance";
});
on("live", renderConnStates);
on("event", ({ event }) => {
  if (event.type.startsWith("ticket.") || event.type === "comment.created") refreshCounts();
});
on("resync", refreshCounts);
onRoute((r) => route(r));

// Keep relative times fresh ("just now" → "2 min ago") without re-rendering anything else.
setInterval(() => {
  for (const el of document.querySelectorAll("time[data-relative]")) el.textContent = relativeTime(el.getAttribute("datetime"));
}, 30000);

// Presence follows the tab: away when hidden, online when back; stop "viewing" when the page goes.
document.addEventListener("visibilitychange", () => {
  const status = document.visibilityState === "visible" ? "online" : "away";
  for (const p of signedIn()) rpc(p, "presence.update", { status }).catch(() => {});
});
window.addEventListener("pagehide", () => {
  const r = parseRoute();
  if (r.name === "ticket" && me(r.project)) rpc(r.project, "presence.set_viewing_ticket", { ticket_id: null }, { keepalive: true }).catch(() => {});
});

window.addEventListener("unhandledrejection", (e) => {
  if (e.reason && e.reason.code !== undefined) {
    toastError(e.reason);
    e.preventDefault();
  }
});

boot();
