// The composer: Markdown text plus screenshots pasted from the clipboard, dropped, or picked.
//
// Images upload as soon as they arrive (with a thumbnail and a progress bar), so pressing Send only
// has to wait for whatever is still in flight. Nothing typed is ever thrown away by a failure: the
// text stays in the box (and in a per-ticket draft in localStorage) until the server confirms.

import { upload } from "./api.js";
import { h, replace } from "./dom.js";
import { bytes } from "./format.js";
import { icon } from "./icons.js";
import { toast, toastError } from "./toast.js";

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const MAX_BYTES = 10 * 1024 * 1024;
const TYPING_INTERVAL_MS = 4000; // presence.set_composing expires after 10 s unless renewed

export function createComposer({
  project,
  allowInternal = false,
  submitLabel = "Send",
  placeholder = "Write a reply…",
  draftKey = null,
  onSubmit,
  onTyping = null,
  compact = false,
  allowEmpty = false,
}) {
  let currentProject = project;
  let internal = false;
  let replyTo = null; // {id, name}
  let sending = false;
  const items = []; // {file, url, state: uploading|ready|error, progress, attachment, promise, el}
  let lastTyping = 0;

  const textarea = h("textarea.form-control.composer-text", {
    rows: compact ? 3 : 4,
    placeholder,
    "aria-label": placeholder,
    name: "body",
  });
  const strip = h("div.attachment-strip");
  const replyChip = h("div.reply-chip.d-none");
  const fileInput = h("input.d-none", { type: "file", accept: "image/png,image/jpeg,image/gif,image/webp", multiple: true });
  const sendBtn = h("button.btn.btn-primary.composer-send", { type: "submit" }, icon("send"), h("span", submitLabel));
  const tabs = allowInternal
    ? h("div.composer-tabs.nav.nav-underline.mb-2", { role: "tablist" },
        h("button.nav-link.active", { type: "button", role: "tab", dataset: { mode: "reply" }, onclick: () => setInternal(false) }, icon("reply"), " Reply"),
        h("button.nav-link", { type: "button", role: "tab", dataset: { mode: "note" }, onclick: () => setInternal(true) }, icon("lock"), " Internal note"))
    : null;
  const hint = h("span.composer-hint.small.text-body-secondary.d-none.d-sm-inline", "Markdown · paste or drop screenshots · Ctrl+Enter sends");
  const form = h("form.composer", { novalidate: true },
    tabs,
    replyChip,
    h("div.composer-box", textarea, strip),
    h("div.composer-actions",
      h("button.btn.btn-sm.btn-outline-secondary", { type: "button", title: "Attach images", "aria-label": "Attach images", onclick: () => fileInput.click() }, icon("paperclip")),
      hint,
      h("span.flex-grow-1"),
      sendBtn),
    fileInput);

  // -- drafts ---------------------------------------------------------------------------------
  const storageKey = () => (draftKey ? `ha.draft.${draftKey}${internal ? ".note" : ""}` : null);
  function loadDraft() {
    const k = storageKey();
    if (!k) return;
    try {
      textarea.value = localStorage.getItem(k) || "";
    } catch {
      /* no storage */
    }
  }
  let draftTimer = null;
  function saveDraft() {
    const k = storageKey();
    if (!k) return;
    clearTimeout(draftTimer);
    draftTimer = setTimeout(() => {
      try {
        if (textarea.value) localStorage.setItem(k, textarea.value);
        else localStorage.removeItem(k);
      } catch {
        /* no storage */
      }
    }, 300);
  }

  function setInternal(value) {
    if (!allowInternal || internal === value) return;
    saveDraftNow();
    internal = value;
    form.classList.toggle("composer-internal", internal);
    for (const b of tabs.querySelectorAll(".nav-link")) b.classList.toggle("active", (b.dataset.mode === "note") === internal);
    textarea.placeholder = internal ? "Write an internal note — only agents see it…" : placeholder;
    loadDraft();
    lastTyping = 0;
    if (textarea.value) typing();
    textarea.focus();
  }

  function saveDraftNow() {
    const k = storageKey();
    if (!k) return;
    clearTimeout(draftTimer);
    try {
      if (textarea.value) localStorage.setItem(k, textarea.value);
      else localStorage.removeItem(k);
    } catch {
      /* no storage */
    }
  }

  // -- typing indicator ---------------------------------------------------------------------------
  function typing() {
    if (!onTyping) return;
    const now = Date.now();
    if (now - lastTyping < TYPING_INTERVAL_MS) return;
    lastTyping = now;
    onTyping(internal);
  }

  // -- attachments ----------------------------------------------------------------------------
  function renderItem(item) {
    const progress = h("div.progress", { role: "progressbar", "aria-label": "Upload progress" }, h("div.progress-bar"));
    progress.firstChild.style.width = `${Math.round(item.progress * 100)}%`;
    const status =
      item.state === "error"
        ? h("span.text-danger.small", { title: item.error }, icon("alert"), " failed")
        : item.state === "ready"
          ? h("span.text-success.small", icon("check"), " ", bytes(item.file.size))
          : progress;
    const el = h(`div.attachment-item.state-${item.state}`, { title: item.file.name },
      h("img", { src: item.url, alt: item.file.name }),
      h("div.attachment-item-footer", status),
      h("button.btn-close.attachment-remove", { type: "button", "aria-label": `Remove ${item.file.name}`, onclick: () => remove(item) }),
      item.state === "error" ? h("button.btn.btn-sm.btn-light.attachment-retry", { type: "button", onclick: () => start(item) }, icon("refresh"), " Retry") : null);
    if (item.el) item.el.replaceWith(el);
    item.el = el;
    return el;
  }

  function start(item) {
    item.state = "uploading";
    item.progress = 0;
    item.attachment = null;
    renderItem(item);
    const forProject = currentProject;
    item.promise = upload(forProject, item.file, (p) => {
      item.progress = p;
      const bar = item.el.querySelector(".progress-bar");
      if (bar) bar.style.width = `${Math.round(p * 100)}%`;
    }).then(
      (attachment) => {
        if (forProject !== currentProject || !items.includes(item)) return;
        item.state = "ready";
        item.attachment = attachment;
        renderItem(item);
      },
      (err) => {
        if (!items.includes(item)) return;
        item.state = "error";
        item.error = err.message;
        renderItem(item);
        toastError(err, `Could not upload ${item.file.name}`);
      },
    );
  }

  function addFiles(files) {
    for (const original of files) {
      if (!IMAGE_TYPES.has(original.type)) {
        toast(`${original.name || "That file"} is not a PNG, JPEG, GIF or WebP image.`, { kind: "error", title: "Images only" });
        continue;
      }
      if (original.size > MAX_BYTES) {
        toast(`${original.name} is ${bytes(original.size)}; the limit is 10 MB.`, { kind: "error", title: "Image too large" });
        continue;
      }
      // Pasted screenshots are all called "image.png": give them a name worth reading later.
      const file =
        !original.name || original.name === "image.png"
          ? new File([original], `screenshot-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}.${original.type.split("/")[1]}`, { type: original.type })
          : original;
      const item = { file, url: URL.createObjectURL(file), state: "uploading", progress: 0, attachment: null, el: null };
      items.push(item);
      strip.append(renderItem(item));
      start(item);
    }
    strip.classList.toggle("has-items", items.length > 0);
  }

  function remove(item) {
    const i = items.indexOf(item);
    if (i >= 0) items.splice(i, 1);
    item.el?.remove();
    URL.revokeObjectURL(item.url);
    strip.classList.toggle("has-items", items.length > 0);
  }

  // -- events ---------------------------------------------------------------------------------
  textarea.addEventListener("input", () => {
    saveDraft();
    if (textarea.value.trim()) typing();
    autosize();
  });
  textarea.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData?.files || [])].filter((f) => f.type.startsWith("image/"));
    if (files.length) {
      e.preventDefault();
      addFiles(files);
      typing();
    }
  });
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
    if (e.key === "Escape") textarea.blur();
  });
  form.addEventListener("dragover", (e) => {
    if ([...(e.dataTransfer?.types || [])].includes("Files")) {
      e.preventDefault();
      form.classList.add("dragging");
    }
  });
  form.addEventListener("dragleave", (e) => {
    if (!form.contains(e.relatedTarget)) form.classList.remove("dragging");
  });
  form.addEventListener("drop", (e) => {
    if (!e.dataTransfer?.files?.length) return;
    e.preventDefault();
    form.classList.remove("dragging");
    addFiles([...e.dataTransfer.files]);
  });
  fileInput.addEventListener("change", () => {
    addFiles([...fileInput.files]);
    fileInput.value = "";
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (sending) return;
    const body = textarea.value;
    if (!body.trim() && !items.length && !allowEmpty) {
      form.classList.remove("shake");
      void form.offsetWidth; // restart the animation
      form.classList.add("shake");
      textarea.focus();
      return;
    }
    sending = true;
    sendBtn.disabled = true;
    replace(sendBtn, h("span.spinner-border.spinner-border-sm"), h("span", items.some((i) => i.state === "uploading") ? "Uploading…" : "Sending…"));
    try {
      await Promise.all(items.map((i) => i.promise));
      const failed = items.filter((i) => i.state !== "ready");
      if (failed.length) {
        toast("Some images did not upload. Retry or remove them, then send again.", { kind: "error", title: "Not sent" });
        return;
      }
      await onSubmit({ body, attachmentIds: items.map((i) => i.attachment.id), internal, parentId: replyTo?.id ?? null });
      // Only now, with the server's yes, is the text let go.
      textarea.value = "";
      saveDraftNow();
      for (const item of [...items]) remove(item);
      setReplyTo(null);
      lastTyping = 0;
      autosize();
    } catch (err) {
      toastError(err, "Not sent — your text is still here");
    } finally {
      sending = false;
      sendBtn.disabled = false;
      replace(sendBtn, icon("send"), h("span", submitLabel));
    }
  });

  function autosize() {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight + 2, 360)}px`;
  }

  function setReplyTo(target) {
    replyTo = target;
    if (!target) {
      replyChip.classList.add("d-none");
      replyChip.replaceChildren();
      return;
    }
    if (target.internal) setInternal(true);
    replyChip.classList.remove("d-none");
    replace(replyChip, icon("reply"), h("span", "Replying to ", h("strong", target.name)),
      h("button.btn-close.btn-close-sm.ms-2", { type: "button", "aria-label": "Cancel reply", onclick: () => setReplyTo(null) }));
    textarea.focus();
  }

  loadDraft();
  setTimeout(autosize);

  return {
    el: form,
    textarea,
    focus: () => textarea.focus(),
    setReplyTo,
    setInternal,
    get internal() {
      return internal;
    },
    get busy() {
      return sending || items.some((i) => i.state === "uploading");
    },
    setProject(name) {
      if (name === currentProject) return;
      currentProject = name;
      for (const item of items) start(item); // an upload belongs to one project: send it again
    },
    destroy() {
      saveDraftNow();
      for (const item of [...items]) URL.revokeObjectURL(item.url);
    },
  };
}
