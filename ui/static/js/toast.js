// Toasts: errors carry the server's own message (and which project said it); successes are brief.

import { h } from "./dom.js";
import { icon } from "./icons.js";

function container() {
  let el = document.getElementById("toasts");
  if (!el) {
    el = h("div.toast-container.position-fixed.top-0.end-0.p-3", { id: "toasts", "aria-live": "polite" });
    document.body.append(el);
  }
  return el;
}

export function toast(message, { kind = "info", title = "", delay = kind === "success" ? 3000 : 5000 } = {}) {
  const el = h(
    `div.toast.align-items-center.border-0.toast-${kind}`,
    { role: kind === "error" ? "alert" : "status", "aria-atomic": "true" },
    h(
      "div.d-flex",
      h("div.toast-body.d-flex.gap-2.align-items-start",
        icon(kind === "error" ? "alert" : "check", "flex-shrink-0 mt-1"),
        h("div", title ? h("div.fw-semibold", title) : null, h("div.toast-message", message))),
      h("button.btn-close.me-2.m-auto", { type: "button", "aria-label": "Close", dataset: { bsDismiss: "toast" } }),
    ),
  );
  container().append(el);
  const t = window.bootstrap.Toast.getOrCreateInstance(el, { delay, autohide: delay > 0 });
  el.addEventListener("hidden.bs.toast", () => el.remove());
  t.show();
  return el;
}

export function toastError(err, context = "") {
  const project = err && err.project ? ` (${err.project})` : "";
  const message = (err && err.message) || String(err);
  let extra = "";
  if (err && err.code === -32005 && err.data && err.data.retry_after) extra = ` Try again in ${err.data.retry_after} s.`;
  return toast(message + extra, { kind: "error", title: (context || "Something went wrong") + project, delay: 8000 });
}
