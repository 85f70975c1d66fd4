// One ticket: the conversation (threaded, internal notes set apart for agents), who is looking and who
// is typing, the controls agents work with, the participants, the history, and the composer.

import { attachmentUrl, errorCode, errorMessage, listAll, NOT_FOUND, rpc, ui } from "../api.js";
import { createComposer } from "../composer.js";
import { $, clear, h, replace, trustedHtml } from "../dom.js";
import {
  avatar,
  fullTime,
  PRIORITY_LABEL,
  priorityBadge,
  projectChip,
  STATUS_LABEL,
  statusBadge,
  tagChip,
  timeEl,
} from "../format.js";
import { icon } from "../icons.js";
import { navigate } from "../router.js";
import {
  composersOf,
  ensureUsers,
  isAgent,
  isKnown,
  loadAgents,
  loadPresence,
  markSeen,
  me,
  on,
  presence,
  rememberUser,
  stopComposing,
  user,
  userName,
  viewersOf,
} from "../store.js";
import { toast, toastError } from "../toast.js";

const htmlCache = new Map();

async function renderMarkdown(texts) {
  const missing = [...new Set(texts.filter((t) => t && !htmlCache.has(t)))];
  for (let i = 0; i < missing.length; i += 200) {
    const chunk = missing.slice(i, i + 200);
    const { html } = await ui("ui.render_markdown", { texts: chunk });
    chunk.forEach((t, j) => htmlCache.set(t, html[j]));
  }
}

function markdown(text) {
  if (!text) return null;
  const html = htmlCache.get(text);
  return html === undefined ? h("p.preformatted", text) : trustedHtml(html);
}

function lightbox(project, attachment) {
  const modal = h("div.modal.fade.lightbox", { tabindex: "-1", "aria-label": attachment.filename },
    h("div.modal-dialog.modal-dialog-centered.modal-xl",
      h("div.modal-content",
        h("div.modal-header.py-2",
          h("h2.modal-title.h6.text-truncate", attachment.filename),
          h("a.btn.btn-sm.btn-outline-secondary.ms-auto.me-2", { href: attachmentUrl(project, attachment.id), target: "_blank", rel: "noopener" }, "Open original"),
          h("button.btn-close", { type: "button", dataset: { bsDismiss: "modal" }, "aria-label": "Close" })),
        h("div.modal-body.text-center", h("img.img-fluid", { src: attachmentUrl(project, attachment.id), alt: attachment.filename })))));
  document.body.append(modal);
  modal.addEventListener("hidden.bs.modal", () => modal.remove());
  window.bootstrap.Modal.getOrCreateInstance(modal).show();
}

function attachmentsEl(project, attachments) {
  if (!attachments || !attachments.length) return null;
  return h("div.attachments",
    attachments.map((a) =>
      h("button.attachment-thumb", { type: "button", title: `${a.filename} (${a.width}×${a.height})`, onclick: () => lightbox(project, a) },
        h("img", { src: attachmentUrl(project, a.id, true), alt: a.filename, loading: "lazy" }))));
}

function describeChange(project, field, change) {
  const name = (id) => (id == null ? "nobody" : userName(project, id));
  switch (field) {
    case "status":
      return ["changed the status from ", h("strong", STATUS_LABEL[change.from] || change.from), " to ", h("strong", STATUS_LABEL[change.to] || change.to)];
    case "priority":
      return ["set the priority to ", h("strong", PRIORITY_LABEL[change.to] || change.to)];
    case "assignee_id":
      return change.to == null ? ["unassigned the ticket"] : ["assigned the ticket to ", h("strong", name(change.to))];
    case "tags":
      return ["set the tags to ", h("strong", (change.to || []).join(", ") || "none")];
    case "title":
      return ["renamed the ticket to ", h("strong", change.to)];
    case "body":
      return ["edited the description"];
    default:
      return [`changed ${field}`];
  }
}

function historyLine(project, entry, internalIds) {
  const who = h("strong", entry.actor_id == null ? "System" : userName(project, entry.actor_id));
  let what;
  switch (entry.action) {
    case "ticket.created":
      what = ["opened the ticket"];
      break;
    case "ticket.updated":
      what = Object.entries(entry.detail || {}).flatMap(([f, c], i) => [i ? "; " : "", ...describeChange(project, f, c)]);
      break;
    case "comment.created":
      what = [internalIds.has(entry.detail?.comment_id) ? "added an internal note" : "replied"];
      break;
    case "comment.updated":
      what = ["edited a reply"];
      break;
    case "comment.deleted":
      what = ["deleted a reply"];
      break;
    case "ticket.archived":
      what = ["archived the ticket"];
      break;
    case "ticket.unarchived":
      what = ["brought the ticket back from the archive"];
      break;
    case "member.added":
      what = ["added ", h("strong", userName(project, entry.detail?.user_id)), " to the ticket"];
      break;
    case "member.removed":
      what = ["removed ", h("strong", userName(project, entry.detail?.user_id)), " from the ticket"];
      break;
    default:
      what = [entry.action];
  }
  return h("li.history-line", h("span.history-dot"), h("div", who, " ", ...what, h("div.small", timeEl(entry.created_at))));
}

export function mountTicket(pane, projectName, ticketId) {
  const agent = isAgent(projectName);
  const myId = me(projectName)?.id;
  let ticket = null;
  let comments = [];
  let members = [];
  let destroyed = false;
  const cleanups = [];

  const headerEl = h("header.ticket-header");
  const presenceEl = h("div.presence-bar", { "aria-live": "polite" });
  const threadEl = h("div.thread", { id: "thread" });
  const sideEl = h("aside.ticket-side");
  const composerSlot = h("div.composer-slot");
  const scrollEl = h("div.ticket-scroll", headerEl, threadEl);
  const mainEl = h("div.ticket-main", scrollEl, presenceEl, composerSlot);
  const root = h("div.ticket-view", { dataset: { project: projectName, ticket: String(ticketId) } }, mainEl, sideEl);
  replace(pane, root);

  // Loading placeholders while the first answers travel.
  replace(headerEl, h("div.placeholder-glow",
    h("span.placeholder.col-3.rounded.mb-2"), h("h2.h4", h("span.placeholder.col-8.rounded")), h("span.placeholder.col-4.rounded")));
  replace(threadEl, [1, 2, 3].map(() => h("div.comment.placeholder-glow", h("span.avatar.placeholder"),
    h("div.comment-card.flex-grow-1", h("span.placeholder.col-4.rounded.mb-2"), h("span.placeholder.col-12.rounded"), h("span.placeholder.col-9.rounded")))));

  // -- header and controls ---------------------------------------------------------------------
  async function update(changes, label) {
    const before = ticket;
    try {
      ticket = await rpc(projectName, "ticket.update", { id: ticket.id, ...changes });
      renderHeader();
      renderSide();
      if (label) toast(label, { kind: "success", delay: 2500 });
    } catch (err) {
      ticket = before;
      renderHeader();
      renderSide();
      toastError(err, "Could not update the ticket");
    }
  }

  function editTitle() {
    const input = h("input.form-control.form-control-lg", { value: ticket.title, "aria-label": "Title", maxlength: 200 });
    const save = async () => {
      const title = input.value.trim();
      if (title && title !== ticket.title) await update({ title });
      else renderHeader();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") save();
      if (e.key === "Escape") renderHeader();
    });
    input.addEventListener("blur", save);
    replace($(".ticket-title-row", headerEl), input);
    input.focus();
    input.select();
  }

  function renderHeader() {
    const canEdit = agent || ticket.created_by === myId;
    const reopen = !agent && (ticket.status === "resolved" || ticket.status === "closed")
      ? h("button.btn.btn-sm.btn-outline-primary", { type: "button", onclick: () => update({ status: "open" }, "Ticket reopened") }, icon("refresh"), " Reopen")
      : null;
    replace(headerEl,
      h("div.d-flex.align-items-center.gap-2.mb-1.flex-wrap",
        h("a.btn.btn-sm.btn-link.back-link.p-0.me-1", { href: "/", dataset: { link: "1" }, "aria-label": "Back to the inbox" }, icon("back")),
        projectChip(projectName),
        h("span.ticket-id", `#${ticket.id}`),
        statusBadge(ticket.status),
        priorityBadge(ticket.priority),
        ticket.archived ? h("span.badge.text-bg-secondary", icon("archive"), " Archived") : null,
        h("span.ms-auto"),
        reopen,
        h("button.btn.btn-sm.btn-outline-secondary.d-xxl-none.details-toggle", {
          type: "button",
          "aria-expanded": root.classList.contains("show-side") ? "true" : "false",
          onclick: () => {
            root.classList.toggle("show-side");
            renderHeader();
          },
        }, agent ? icon("settings") : icon("users"), agent ? " Details" : " People")),
      h("div.ticket-title-row",
        h("h2.ticket-heading", ticket.title),
        canEdit ? h("button.btn.btn-sm.btn-link.edit-title", { type: "button", title: "Edit title", "aria-label": "Edit title", onclick: editTitle }, icon("pencil")) : null),
      h("div.small.text-body-secondary",
        "Opened by ", h("strong", userName(projectName, ticket.created_by)), " ", timeEl(ticket.created_at),
        ticket.tags?.length ? h("span.ms-2", ticket.tags.map(tagChip)) : null));  // customers are shown no tags
  }

  // -- participants, controls, history (the side panel) -------------------------------------------
  let historyOpen = false;

  function controlSelect(label, name, options, value, onChange) {
    return h("div.mb-3",
      h("label.form-label.small.fw-semibold.text-body-secondary", { for: `ctl-${name}` }, label),
      h("select.form-select.form-select-sm", { id: `ctl-${name}`, name, onchange: (e) => onChange(e.target.value) },
        options.map(([v, t]) => h("option", { value: v, selected: String(v) === String(value) }, t))));
  }

  function tagEditor() {
    const input = h("input.form-control.form-control-sm", { placeholder: "Add a tag…", "aria-label": "Add a tag", maxlength: 50 });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && input.value.trim()) {
        e.preventDefault();
        const tag = input.value.trim().toLowerCase();
        if (!ticket.tags.includes(tag)) update({ tags: [...ticket.tags, tag] });
        input.value = "";
      }
    });
    return h("div.mb-3",
      h("label.form-label.small.fw-semibold.text-body-secondary", "Tags"),
      h("div.d-flex.flex-wrap.gap-1.mb-1",
        ticket.tags.map((t) =>
          h("span.tag-chip.tag-chip-removable", icon("tag"), t,
            h("button.btn-close.btn-close-sm", { type: "button", "aria-label": `Remove tag ${t}`, onclick: () => update({ tags: ticket.tags.filter((x) => x !== t) }) })))),
      input);
  }

  function participantEl(uid) {
    const u = user(projectName, uid);
    const p = presence(projectName, uid);
    const viewing = p && p.viewing_ticket_id === ticketId && p.status !== "offline";
    const staff = u && (u.role === "support" || u.role === "admin");
    return h("li.participant",
      avatar(projectName, uid),
      h("div.min-w-0",
        h("div.text-truncate", userName(projectName, uid), uid === myId ? h("span.text-body-secondary", " (you)") : null),
        h("div.small.text-body-secondary", staff ? "Agent" : "Customer", p ? ` · ${p.status}` : "")),
      viewing && uid !== myId ? h("span.ms-auto.text-primary", { title: "Viewing this ticket now" }, icon("eye")) : null);
  }

  function renderSide() {
    if (!ticket) return;
    clear(sideEl);
    sideEl.append(h("button.btn-close.d-xxl-none.side-close", {
      type: "button",
      "aria-label": "Close the details",
      onclick: () => {
        root.classList.remove("show-side");
        renderHeader();
      },
    }));
    if (agent) {
      const agents = agentsList;
      sideEl.append(h("section.side-section",
        h("h3.side-title", "Properties"),
        controlSelect("Status", "status", Object.entries(STATUS_LABEL), ticket.status, (v) => update({ status: v }, `Status: ${STATUS_LABEL[v]}`)),
        controlSelect("Priority", "priority", Object.entries(PRIORITY_LABEL), ticket.priority, (v) => update({ priority: v })),
        controlSelect("Assignee", "assignee", [["", "Unassigned"], ...agents.map((a) => [a.id, a.display_name || a.email])], ticket.assignee_id ?? "",
          (v) => update({ assignee_id: v === "" ? null : Number(v) }, v === "" ? "Unassigned" : `Assigned to ${userName(projectName, Number(v))}`)),
        ticket.assignee_id !== myId
          ? h("button.btn.btn-sm.btn-link.p-0.mb-3.assign-me", { type: "button", onclick: () => update({ assignee_id: myId }, "Assigned to you") }, "Assign to me")
          : null,
        tagEditor(),
        h("button.btn.btn-sm.btn-outline-secondary.w-100", {
          type: "button",
          onclick: async () => {
            try {
              ticket = await rpc(projectName, ticket.archived ? "ticket.unarchive" : "ticket.archive", { id: ticket.id });
              renderHeader();
              renderSide();
              toast(ticket.archived ? "Archived" : "Back from the archive", { kind: "success", delay: 2500 });
            } catch (err) {
              toastError(err, "Could not archive");
            }
          },
        }, icon("archive"), ticket.archived ? " Unarchive" : " Archive")));
    }
    const people = [...new Set([ticket.created_by, ...members.map((m) => m.id), ticket.assignee_id].filter((x) => x != null))];
    sideEl.append(h("section.side-section",
      h("h3.side-title", "Participants"),
      h("ul.participants.list-unstyled.mb-0", people.map(participantEl))));
    const history = h("ol.history.list-unstyled.mb-0");
    const toggle = h("button.side-title.side-toggle.btn.btn-link.p-0", {
      type: "button",
      "aria-expanded": historyOpen ? "true" : "false",
      onclick: async () => {
        historyOpen = !historyOpen;
        renderSide();
      },
    }, icon("history"), " History ", h("span.small", historyOpen ? "▾" : "▸"));
    sideEl.append(h("section.side-section", toggle, history));
    if (historyOpen) loadHistory(history);
  }

  async function loadHistory(el) {
    replace(el, h("li.small.text-body-secondary", "Loading…"));
    try {
      const entries = await listAll(projectName, "ticket.history", { id: ticketId }, 400);
      await ensureUsers(projectName, entries.flatMap((e) => [e.actor_id, e.detail?.user_id, e.detail?.assignee_id?.to]));
      const internalIds = new Set(comments.filter((c) => c.internal).map((c) => c.id));
      replace(el, entries.map((e) => historyLine(projectName, e, internalIds)));
    } catch (err) {
      replace(el, h("li.small.text-danger", errorMessage(err)));
    }
  }

  // -- presence --------------------------------------------------------------------------------
  function renderPresence() {
    const viewers = viewersOf(projectName, ticketId);
    const composers = composersOf(projectName, ticketId).filter((c) => agent || !c.internal);
    const unknown = [...viewers, ...composers.map((c) => c.userId)].filter((id) => !isKnown(projectName, id));
    if (unknown.length) ensureUsers(projectName, unknown).then(() => !destroyed && renderPresence());
    const parts = [];
    for (const c of composers) {
      parts.push(h("span.presence-item.composing", { dataset: { userId: String(c.userId) } },
        avatar(projectName, c.userId, "xs"),
        h("span", h("strong", userName(projectName, c.userId)), c.internal ? " is writing an internal note" : " is replying"),
        h("span.typing-dots", h("span"), h("span"), h("span"))));
    }
    for (const uid of viewers) {
      if (composers.some((c) => c.userId === uid)) continue;
      parts.push(h("span.presence-item.viewing", { dataset: { userId: String(uid) } },
        icon("eye"), h("span", h("strong", userName(projectName, uid)), " is viewing")));
    }
    replace(presenceEl, parts);
    presenceEl.classList.toggle("empty", parts.length === 0);
  }

  // Composing indicators end by themselves; re-check every second so a stale one disappears.
  const presenceTimer = setInterval(() => !destroyed && renderPresence(), 1000);
  cleanups.push(() => clearInterval(presenceTimer));

  // -- the thread ------------------------------------------------------------------------------
  function commentEl(comment) {
    const author = user(projectName, comment.author_id);
    const staff = author && (author.role === "support" || author.role === "admin");
    const mine = comment.author_id === myId;
    const classes = ["comment"];
    if (comment.internal) classes.push("comment-internal");
    if (staff) classes.push("comment-staff");
    if (mine) classes.push("comment-mine");
    const canDelete = mine || agent;
    const actions = h("div.comment-actions",
      h("button.btn.btn-sm.btn-link", { type: "button", onclick: () => composer.setReplyTo({ id: comment.id, name: userName(projectName, comment.author_id), internal: comment.internal }) }, icon("reply"), " Reply"),
      mine ? h("button.btn.btn-sm.btn-link", { type: "button", onclick: () => editComment(comment) }, icon("pencil"), " Edit") : null,
      canDelete ? h("button.btn.btn-sm.btn-link.text-danger", { type: "button", onclick: () => deleteComment(comment) }, icon("trash"), " Delete") : null);
    return h("article", { class: classes.join(" "), id: `comment-${comment.id}`, dataset: { commentId: String(comment.id) } },
      avatar(projectName, comment.author_id),
      h("div.comment-card",
        h("div.comment-head",
          h("strong.comment-author", userName(projectName, comment.author_id)),
          staff ? h("span.badge.role-badge", "Agent") : null,
          comment.internal ? h("span.badge.internal-badge", icon("lock"), " Internal note") : null,
          h("a.comment-time", { href: `#comment-${comment.id}`, title: fullTime(comment.created_at) }, timeEl(comment.created_at)),
          comment.edited_at ? h("span.small.text-body-secondary", { title: fullTime(comment.edited_at) }, "(edited)") : null),
        h("div.comment-body.markdown", markdown(comment.body)),
        attachmentsEl(projectName, comment.attachments),
        actions));
  }

  function renderThread() {
    const opening = h("article.comment.comment-opening", { id: "ticket-body" },
      avatar(projectName, ticket.created_by),
      h("div.comment-card",
        h("div.comment-head", h("strong.comment-author", userName(projectName, ticket.created_by)), h("span.text-body-secondary.small", "opened this ticket"), h("span.comment-time", timeEl(ticket.created_at))),
        ticket.body ? h("div.comment-body.markdown", markdown(ticket.body)) : h("div.comment-body.text-body-secondary.fst-italic", "No description."),
        attachmentsEl(projectName, ticket.attachments)));
    const byParent = new Map();
    const ids = new Set(comments.map((c) => c.id));
    for (const c of comments) {
      const parent = c.parent_id && ids.has(c.parent_id) ? c.parent_id : 0;
      if (!byParent.has(parent)) byParent.set(parent, []);
      byParent.get(parent).push(c);
    }
    const build = (parent) =>
      (byParent.get(parent) || []).map((c) => {
        const replies = build(c.id);
        return h("div.comment-thread", commentEl(c), replies.length ? h("div.comment-replies", replies) : null);
      });
    replace(threadEl, opening, build(0));
    if (!comments.length) threadEl.append(h("p.thread-empty.text-body-secondary.small", agent ? "No replies yet. The customer is waiting for you." : "No replies yet. We’ll answer here — you’ll see it the moment it arrives."));
  }

  function scrollToEnd() {
    scrollEl.scrollTop = scrollEl.scrollHeight;
  }

  async function editComment(comment) {
    const el = $(`#comment-${comment.id} .comment-body`, threadEl);
    const area = h("textarea.form-control", { rows: 4, "aria-label": "Edit reply" });
    area.value = comment.body;
    const save = h("button.btn.btn-sm.btn-primary", { type: "button" }, "Save");
    const cancel = h("button.btn.btn-sm.btn-outline-secondary", { type: "button", onclick: () => renderThread() }, "Cancel");
    save.addEventListener("click", async () => {
      try {
        const updated = await rpc(projectName, "comment.update", { id: comment.id, body: area.value });
        await renderMarkdown([updated.body]);
        comments = comments.map((c) => (c.id === updated.id ? updated : c));
        renderThread();
      } catch (err) {
        toastError(err, "Could not save your edit");
      }
    });
    replace(el, area, h("div.d-flex.gap-2.mt-2", save, cancel));
    area.focus();
  }

  async function deleteComment(comment) {
    if (!confirm("Delete this reply? This cannot be undone.")) return;
    try {
      await rpc(projectName, "comment.delete", { id: comment.id });
      await reloadComments();
    } catch (err) {
      toastError(err, "Could not delete");
    }
  }

  async function reloadComments() {
    comments = await listAll(projectName, "comment.list", { ticket_id: ticketId }, 2000);
    await ensureUsers(projectName, comments.map((c) => c.author_id));
    await renderMarkdown(comments.map((c) => c.body));
    renderThread();
  }

  // -- composer --------------------------------------------------------------------------------
  let agentsList = [];
  const composer = createComposer({
    project: projectName,
    allowInternal: agent,
    placeholder: agent ? "Reply to the customer…" : "Write a reply…",
    draftKey: `${projectName}.${ticketId}`,
    onTyping: (internal) => {
      rpc(projectName, "presence.set_composing", { ticket_id: ticketId, internal }).catch(() => {});
    },
    onSubmit: async ({ body, attachmentIds, internal, parentId }) => {
      const comment = await rpc(projectName, "comment.create", {
        ticket_id: ticketId,
        body,
        internal,
        attachment_ids: attachmentIds,
        ...(parentId ? { parent_id: parentId } : {}),
      });
      await addComment(comment);
      scrollToEnd();
    },
  });
  composerSlot.append(composer.el);
  cleanups.push(() => composer.destroy());

  async function addComment(comment) {
    if (comments.some((c) => c.id === comment.id)) return;
    await ensureUsers(projectName, [comment.author_id], { retry: true });
    await renderMarkdown([comment.body]);
    if (destroyed || comments.some((c) => c.id === comment.id)) return;
    const nearBottom = scrollEl.scrollTop + scrollEl.clientHeight > scrollEl.scrollHeight - 120;
    comments.push(comment);
    comments.sort((a, b) => a.id - b.id);
    renderThread();
    $(`#comment-${comment.id}`, threadEl)?.classList.add("fresh");
    if (nearBottom || comment.author_id === myId) scrollToEnd();
  }

  // -- live ------------------------------------------------------------------------------------
  cleanups.push(on("event", async ({ project, event }) => {
    if (project !== projectName || destroyed) return;
    if (event.type.startsWith("presence.")) {
      if (event.ticket_id === ticketId || event.type === "presence.updated") {
        renderPresence();
        if (ticket && event.type !== "presence.composing") renderSide();
      }
      return;
    }
    if (event.ticket_id !== ticketId) return;
    const d = event.data || {};
    switch (event.type) {
      case "comment.created":
        stopComposing(projectName, ticketId, d.comment.author_id);
        await addComment(d.comment);
        if (!d.comment.internal && !members.some((m) => m.id === d.comment.author_id)) {
          // Replying publicly makes the author a participant (the project adds them as a member).
          const author = user(projectName, d.comment.author_id);
          if (author && !author.unknown) members = [...members, author];
          renderSide();
        }
        if (ticket) {
          ticket = { ...ticket, last_activity_at: event.ts, comment_count: ticket.comment_count + 1 };
          markSeen(projectName, ticket);
        }
        renderPresence();
        break;
      case "comment.updated":
        await renderMarkdown([d.comment.body]);
        comments = comments.map((c) => (c.id === d.comment.id ? d.comment : c));
        renderThread();
        break;
      case "comment.deleted":
        await reloadComments();
        break;
      case "ticket.updated":
      case "ticket.archived":
      case "ticket.unarchived":
        ticket = d.ticket;
        await ensureUsers(projectName, [ticket.assignee_id, ...ticket.members], { retry: true });
        if (ticket.body) await renderMarkdown([ticket.body]);
        renderHeader();
        renderSide();
        markSeen(projectName, ticket);
        break;
      case "member.added":
      case "member.removed":
        members = await listAll(projectName, "ticket.member.list", { ticket_id: ticketId }, 500).catch(() => members);
        for (const m of members) rememberUser(projectName, m);
        renderSide();
        break;
      case "ticket.deleted":
        toast("This ticket was deleted.", { kind: "error" });
        navigate("/");
        break;
      default:
        break;
    }
  }));
  cleanups.push(on("presence", ({ project }) => {
    if (project === projectName && !destroyed) renderPresence();
  }));
  cleanups.push(on("resync", ({ project }) => {
    if (!destroyed && (project === null || project === projectName)) load();
  }));

  // -- load ------------------------------------------------------------------------------------
  async function load() {
    try {
      const [t, c, m] = await Promise.all([
        rpc(projectName, "ticket.get", { id: ticketId }),
        listAll(projectName, "comment.list", { ticket_id: ticketId }, 2000),
        listAll(projectName, "ticket.member.list", { ticket_id: ticketId }, 500).catch(() => []),
        loadPresence(projectName),
      ]);
      ticket = t;
      comments = c;
      members = m;
      for (const u of members) rememberUser(projectName, u);
      agentsList = agent ? await loadAgents(projectName).catch(() => []) : [];
      await ensureUsers(projectName, [ticket.created_by, ticket.assignee_id, ...comments.map((x) => x.author_id)], { retry: true });
      await renderMarkdown([ticket.body, ...comments.map((x) => x.body)]).catch(() => {});
    } catch (err) {
      if (destroyed) return;
      replace(root, h("div.empty-state",
        icon("alert", "empty-icon"),
        h("p.mb-1", errorCode(err) === NOT_FOUND ? "This ticket does not exist, or you cannot see it." : "The ticket could not be loaded."),
        h("p.small.text-body-secondary", errorMessage(err)),
        h("a.btn.btn-outline-primary.btn-sm", { href: "/", dataset: { link: "1" } }, "Back to the inbox")));
      return;
    }
    if (destroyed) return;
    renderHeader();
    renderThread();
    renderSide();
    renderPresence();
    markSeen(projectName, ticket);
    scrollToEnd();
    document.title = `#${ticket.id} ${ticket.title} · Hero Assistance`;
  }

  load().then(() => {
    if (!destroyed) rpc(projectName, "presence.set_viewing_ticket", { ticket_id: ticketId }).catch(() => {});
  });

  return {
    focusComposer: () => composer.focus(),
    destroy() {
      destroyed = true;
      for (const fn of cleanups) fn();
      rpc(projectName, "presence.set_viewing_ticket", { ticket_id: null }, { keepalive: true }).catch(() => {});
      document.title = "Hero Assistance";
    },
  };
}
