// Signing in by magic link: email → "check your mail (or the operator's log)" → the link, or its code
// pasted here → signed in. Each project binds this browser separately; one link may carry tokens for
// several projects (?project=a&token=…&project=b&token=…), and all of them are consumed.

import { errorCode, INVALID_TOKEN, rpc } from "../api.js";
import { h, replace } from "../dom.js";
import { projectChip } from "../format.js";
import { icon } from "../icons.js";
import { loadIdentity, me, store } from "../store.js";
import { toast, toastError } from "../toast.js";

const PENDING_KEY = "ha.pendingSignIn";

function deviceLabel() {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? "Edge" : /Chrome\//.test(ua) ? "Chrome" : /Firefox\//.test(ua) ? "Firefox" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return `${browser}${os ? ` on ${os}` : ""}`;
}

function pending() {
  try {
    return JSON.parse(localStorage.getItem(PENDING_KEY) || "null");
  } catch {
    return null;
  }
}

function setPending(value) {
  try {
    if (value) localStorage.setItem(PENDING_KEY, JSON.stringify(value));
    else localStorage.removeItem(PENDING_KEY);
  } catch {
    /* no storage */
  }
}

// [{project, token}] from a sign-in URL (or a pasted link, or a bare code with no project).
export function tokensFrom(text) {
  text = String(text || "").trim();
  if (!text) return [];
  let params;
  try {
    params = new URL(text, location.origin).searchParams;
  } catch {
    params = null;
  }
  if (params && params.getAll("token").length) {
    const tokens = params.getAll("token");
    const projects = params.getAll("project");
    return tokens.map((token, i) => ({ token, project: projects[i] || null }));
  }
  if (/^[A-Za-z0-9_-]{16,}$/.test(text)) return [{ token: text, project: null }];
  return [];
}

// Consume every token; a token without a project is tried where a link was requested, then anywhere
// this browser is not yet signed in. Resolves to the projects now signed in.
export async function consumeTokens(tokens) {
  const done = [];
  const errors = [];
  for (const { token, project } of tokens) {
    const candidates = project
      ? [project]
      : [...new Set([...(pending()?.projects || []), ...store.projects.map((p) => p.name)])].filter((p) => !me(p));
    let ok = false;
    for (const name of candidates) {
      if (!store.projects.some((p) => p.name === name)) continue;
      try {
        await rpc(name, "auth.consume_magic_link", { token, device_label: deviceLabel() });
        await loadIdentity(name);
        done.push(name);
        ok = true;
        break;
      } catch (err) {
        if (errorCode(err) !== INVALID_TOKEN || project) errors.push(err);
      }
    }
    if (!ok && !errors.length) errors.push(Object.assign(new Error("This sign-in code is unknown, used, or expired. Ask for a new link."), { code: INVALID_TOKEN }));
  }
  for (const err of errors) toastError(err, "Sign-in failed");
  if (done.length) {
    setPending(null);
    toast(`Signed in to ${done.join(", ")}.`, { kind: "success" });
  }
  return done;
}

export function mountSignIn(root, { onSignedIn, wanted = null }) {
  const unsigned = store.projects.filter((p) => !me(p.name)).map((p) => p.name);
  const choice = new Set(wanted && unsigned.includes(wanted) ? [wanted] : unsigned);
  const state = pending();
  let step = state && Date.now() - state.at < 15 * 60 * 1000 ? "check" : "email";
  let email = state?.email || localStorage.getItem("ha.lastEmail") || "";

  const card = h("div.signin-card.card.shadow-sm");
  const page = h("div.signin-page",
    h("div.signin-brand", h("span.brand-mark", icon("life")), h("span", "Hero Assistance")),
    card,
    signedInCount() ? h("a.small.mt-3", { href: "/", dataset: { link: "1" } }, "← Back to the app") : null);
  replace(root, page);

  function signedInCount() {
    return store.projects.filter((p) => me(p.name)).length;
  }

  function projectPicker() {
    if (store.projects.length < 2) return null;
    return h("fieldset.mb-3",
      h("legend.form-label.small.text-body-secondary", "Sign in to"),
      h("div.d-flex.flex-wrap.gap-3", store.projects.map((p) => {
        const id = `signin-${p.name}`;
        const signed = !!me(p.name);
        return h("div.form-check",
          h("input.form-check-input", { type: "checkbox", id, checked: choice.has(p.name), disabled: signed, onchange: (e) => (e.target.checked ? choice.add(p.name) : choice.delete(p.name)) }),
          h("label.form-check-label", { for: id }, projectChip(p.name), signed ? h("span.small.text-success.ms-1", "signed in") : null));
      })));
  }

  function renderEmail() {
    const input = h("input.form-control.form-control-lg", { type: "email", id: "signin-email", name: "email", placeholder: "you@example.com", required: true, autocomplete: "email", value: email });
    const button = h("button.btn.btn-primary.btn-lg.w-100", { type: "submit" }, icon("mail"), " Email me a sign-in link");
    const form = h("form", {
      onsubmit: async (e) => {
        e.preventDefault();
        email = input.value.trim();
        if (!email) return;
        const projects = [...choice].filter((p) => !me(p));
        if (!projects.length) {
          toast("Choose at least one project.", { kind: "error" });
          return;
        }
        button.disabled = true;
        const results = await Promise.allSettled(projects.map((p) => rpc(p, "auth.request_magic_link", { email })));
        button.disabled = false;
        const failed = results.map((r, i) => [r, projects[i]]).filter(([r]) => r.status === "rejected");
        for (const [r] of failed) toastError(r.reason, "Could not send the link");
        const sent = projects.filter((_, i) => results[i].status === "fulfilled");
        if (!sent.length) return;
        try {
          localStorage.setItem("ha.lastEmail", email);
        } catch {
          /* no storage */
        }
        setPending({ email, projects: sent, at: Date.now() });
        step = "check";
        render();
      },
    },
    h("h1.h4.mb-1", "Sign in"),
    h("p.text-body-secondary.mb-4", "No password: we email you a link that signs this browser in."),
    h("div.mb-3", h("label.form-label", { for: "signin-email" }, "Email address"), input),
    projectPicker(),
    button);
    replace(card, h("div.card-body.p-4", form), pasteFooter());
    input.focus();
  }

  function pasteFooter() {
    const code = h("input.form-control", { id: "signin-token", name: "token", placeholder: "Paste the link or code", autocomplete: "one-time-code" });
    const form = h("form.input-group", {
      onsubmit: async (e) => {
        e.preventDefault();
        const tokens = tokensFrom(code.value);
        if (!tokens.length) {
          toast("That does not look like a sign-in link or code.", { kind: "error" });
          return;
        }
        const done = await consumeTokens(tokens);
        if (done.length) onSignedIn(done);
      },
    }, code, h("button.btn.btn-outline-primary", { type: "submit" }, "Sign in"));
    return h("div.card-footer.p-3", h("label.form-label.small.text-body-secondary", { for: "signin-token" }, "Already have a link or code?"), form);
  }

  function renderCheck() {
    const projects = pending()?.projects || [];
    replace(card,
      h("div.card-body.p-4.text-center",
        h("div.check-mail-icon", icon("mail")),
        h("h1.h4", "Check your email"),
        h("p", "We sent a sign-in link to ", h("strong", email), projects.length ? [" for ", projects.map((p, i) => [i ? ", " : "", projectChip(p)])] : null, "."),
        h("p.small.text-body-secondary", "Open it in this browser — it works once, for 15 minutes. No mail arriving? If this help desk has no mail server, the operator finds the link in the server's log."),
        h("button.btn.btn-link.btn-sm", { type: "button", onclick: () => { setPending(null); step = "email"; render(); } }, "Use a different email")),
      pasteFooter());
    card.querySelector("#signin-token")?.focus();
  }

  function render() {
    if (step === "check") renderCheck();
    else renderEmail();
  }
  render();
  return { destroy() {} };
}
