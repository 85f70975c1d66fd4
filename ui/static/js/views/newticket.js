// Opening a ticket: which project, a title, what happened (Markdown, screenshots pasted straight in).

import { rpc } from "../api.js";
import { createComposer } from "../composer.js";
import { h, replace } from "../dom.js";
import { ticketPath } from "../format.js";
import { icon } from "../icons.js";
import { navigate } from "../router.js";
import { isAgent, pref, project as projectInfo, setPref, signedIn } from "../store.js";
import { toast } from "../toast.js";

export function mountNewTicket(pane) {
  const projects = signedIn();
  if (!projects.length) {
    replace(pane, h("div.empty-state", icon("user", "empty-icon"), h("p", "Sign in to a project to open a ticket."),
      h("a.btn.btn-primary", { href: "/signin", dataset: { link: "1" } }, "Sign in")));
    return { destroy() {} };
  }
  let chosen = projects.includes(pref("newTicketProject", "")) ? pref("newTicketProject", "") : projects[0];
  const title = h("input.form-control.form-control-lg", { id: "new-title", name: "title", placeholder: "What do you need help with?", maxlength: 200, required: true, autocomplete: "off" });
  const priority = h("select.form-select", { id: "new-priority", name: "priority" },
    [["low", "Low"], ["normal", "Normal"], ["high", "High"], ["urgent", "Urgent"]].map(([v, t]) => h("option", { value: v, selected: v === "normal" }, t)));
  const tags = h("input.form-control", { id: "new-tags", name: "tags", placeholder: "billing, login", autocomplete: "off" });
  const projectSelect = h("select.form-select", { id: "new-project", name: "project", onchange: (e) => {
    chosen = e.target.value;
    setPref("newTicketProject", chosen);
    composer.setProject(chosen);
    renderTags();
  } }, projects.map((p) => h("option", { value: p, selected: p === chosen }, projectInfo(p)?.name || p)));
  const tagsGroup = h("div.col-sm-5", h("label.form-label", { for: "new-tags" }, "Tags"), tags);
  function renderTags() {
    tagsGroup.classList.toggle("d-none", !isAgent(chosen));
  }

  const composer = createComposer({
    project: chosen,
    submitLabel: "Create ticket",
    placeholder: "Describe the problem: what you did, what you expected, what happened. Paste screenshots right here.",
    draftKey: "new-ticket",
    allowEmpty: true,
    onSubmit: async ({ body, attachmentIds }) => {
      if (!title.value.trim()) {
        title.classList.add("is-invalid");
        title.focus();
        throw Object.assign(new Error("Give your ticket a title."), { code: -32602 });
      }
      const ticket = await rpc(chosen, "ticket.create", {
        title: title.value.trim(),
        body,
        priority: priority.value,
        attachment_ids: attachmentIds,
        ...(isAgent(chosen) && tags.value.trim() ? { tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean) } : {}),
      });
      toast(`Ticket #${ticket.id} created. We’ll keep you posted right here.`, { kind: "success" });
      title.value = "";
      navigate(ticketPath(chosen, ticket.id));
    },
  });
  title.addEventListener("input", () => title.classList.remove("is-invalid"));

  replace(pane, h("div.new-ticket",
    h("div.d-flex.align-items-center.gap-2.mb-3",
      h("a.btn.btn-sm.btn-link.back-link.p-0", { href: "/", dataset: { link: "1" }, "aria-label": "Back to the inbox" }, icon("back")),
      h("h2.h4.mb-0", "New ticket")),
    h("div.mb-3", h("label.form-label", { for: "new-title" }, "Title"), title,
      h("div.invalid-feedback", "A short title helps us help you faster.")),
    h("div.row.g-3.mb-3",
      projects.length > 1 ? h("div.col-sm-4", h("label.form-label", { for: "new-project" }, "Project"), projectSelect) : null,
      h("div.col-sm-3", h("label.form-label", { for: "new-priority" }, "Priority"), priority),
      tagsGroup),
    h("label.form-label", "Description"),
    composer.el));
  renderTags();
  title.focus();
  return { destroy: () => composer.destroy() };
}
