// Settings: the projects this app merges (add, remove, live connection state, who I am in each),
// the theme, and the keyboard shortcuts.

import { rpc, ui } from "../api.js";
import { resubscribe } from "../live.js";
import { h, replace } from "../dom.js";
import { projectChip } from "../format.js";
import { icon } from "../icons.js";
import { applyTheme, currentTheme } from "../theme-switch.js";
import { loadIdentity, me, on, refreshStatus, store } from "../store.js";
import { toast, toastError } from "../toast.js";

const STATE_CLASS = { connected: "text-bg-success", connecting: "text-bg-warning", disconnected: "text-bg-danger" };

export const SHORTCUTS = [
  ["j / k", "next / previous ticket"],
  ["Enter", "open the selected ticket"],
  ["u or Esc", "back to the inbox"],
  ["/", "search"],
  ["c", "new ticket"],
  ["r", "reply to the open ticket"],
  ["Ctrl + Enter", "send"],
  ["?", "show these shortcuts"],
];

export function mountSettings(pane) {
  const projectsBody = h("ul.list-group.list-group-flush");
  const name = h("input.form-control", { id: "project-name", name: "name", placeholder: "acme", required: true, pattern: "[a-z0-9][a-z0-9_-]*", autocomplete: "off" });
  const url = h("input.form-control", { id: "project-url", name: "url", placeholder: "unix:/path/rpc.sock or http://[400::1]:8443", required: true, autocomplete: "off" });
  const add = h("form.row.g-2.align-items-end", {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        await ui("ui.projects.add", { name: name.value.trim(), url: url.value.trim() });
        toast(`Project ${name.value.trim()} added. Sign in to it to see its tickets.`, { kind: "success" });
        name.value = "";
        url.value = "";
        await refreshStatus();
        renderProjects();
      } catch (err) {
        toastError(err, "Could not add the project");
      }
    },
  },
  h("div.col-sm-3", h("label.form-label.small", { for: "project-name" }, "Name"), name),
  h("div.col-sm-7", h("label.form-label.small", { for: "project-url" }, "Address"), url),
  h("div.col-sm-2", h("button.btn.btn-primary.w-100", { type: "submit" }, icon("plus"), " Add")));

  async function remove(projectName) {
    if (!confirm(`Remove ${projectName} from this app? Its tickets stay on its server; you can add it again later.`)) return;
    try {
      await ui("ui.projects.remove", { name: projectName });
      toast(`Project ${projectName} removed.`, { kind: "success" });
      await refreshStatus();
      renderProjects();
    } catch (err) {
      toastError(err, "Could not remove the project");
    }
  }

  async function signOut(projectName) {
    try {
      await rpc(projectName, "device.unbind", {});
      await loadIdentity(projectName);
      resubscribe([projectName]);
      toast(`Signed out of ${projectName}.`, { kind: "success" });
      renderProjects();
    } catch (err) {
      toastError(err, "Could not sign out");
    }
  }

  function renderProjects() {
    if (!store.projects.length) {
      replace(projectsBody, h("li.list-group-item.text-body-secondary.py-4.text-center", "No projects yet. Add one below."));
      return;
    }
    replace(projectsBody, store.projects.map((p) => {
      const who = me(p.name);
      const role = store.me.get(p.name)?.role;
      return h("li.list-group-item.project-item", { dataset: { project: p.name } },
        h("div.d-flex.align-items-center.gap-2.flex-wrap",
          projectChip(p.name),
          h(`span.badge.project-state.${STATE_CLASS[p.state] || "text-bg-secondary"}`, { title: p.detail || "" }, p.state || "unknown"),
          h("span.small.text-body-secondary", p.transport === "unix" ? "Unix socket" : "mycelium overlay"),
          h("span.ms-auto.project-item-actions",
            who ? h("button.btn.btn-sm.btn-link", { type: "button", title: "Unbind this browser from your account", onclick: () => signOut(p.name) }, icon("logout"), " Sign out") : null,
            h("button.btn.btn-sm.btn-link.text-danger", { type: "button", onclick: () => remove(p.name), "aria-label": `Remove ${p.name}` }, icon("trash"), " Remove"))),
        h("div.project-url.text-body-secondary.mt-1", { title: p.url }, p.url),
        p.detail && p.state !== "connected" ? h("div.small.text-danger.mt-1", p.detail) : null,
        h("div.mt-2.small",
          who
            ? ["Signed in as ", h("strong", who.display_name || who.email), h("span.text-body-secondary", ` · ${who.email} · ${role}`)]
            : h("a.btn.btn-sm.btn-outline-primary", { href: `/signin?project=${encodeURIComponent(p.name)}`, dataset: { link: "1" } }, "Sign in")));
    }));
  }

  const theme = h("select.form-select.w-auto", { id: "theme-select", onchange: (e) => applyTheme(e.target.value) },
    [["auto", "Match the system"], ["light", "Light"], ["dark", "Dark"]].map(([v, t]) => h("option", { value: v, selected: currentTheme() === v }, t)));

  replace(pane, h("div.settings",
    h("h2.h4.mb-4", "Settings"),
    h("section.card.mb-4",
      h("div.card-header.d-flex.align-items-center", icon("server"), h("span.ms-2.fw-semibold", "Projects")),
      projectsBody,
      h("div.card-body.border-top", h("p.small.text-body-secondary.mb-2", "Add a project by its server address: a Unix socket on this machine, or a mycelium overlay address."), add)),
    h("section.card.mb-4",
      h("div.card-header.fw-semibold", "Appearance"),
      h("div.card-body.d-flex.align-items-center.gap-3", h("label", { for: "theme-select" }, "Theme"), theme)),
    h("section.card.mb-4",
      h("div.card-header.fw-semibold", icon("keyboard"), " Keyboard shortcuts"),
      h("div.card-body", h("dl.shortcuts.mb-0", SHORTCUTS.flatMap(([k, d]) => [h("dt", h("kbd", k)), h("dd", d)])))),
    h("p.small.text-body-secondary", `Hero Assistance ${store.version}`)));
  renderProjects();
  const off = [on("projects", renderProjects), on("identity", renderProjects)];
  return { destroy: () => off.forEach((f) => f()) };
}
