// Small presentational pieces shared by the views: times, avatars, badges.

import { h } from "./dom.js";
import { icon } from "./icons.js";
import { presence, user, userName } from "./store.js";

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function relativeTime(iso) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return "";
  const seconds = Math.round((t - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  if (abs < 86400 * 7) return rtf.format(Math.round(seconds / 86400), "day");
  return full.format(new Date(t));
}

export function fullTime(iso) {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? full.format(new Date(t)) : "";
}

// A <time> that keeps itself current (see tickTimes in main.js).
export function timeEl(iso, cls = "") {
  return h(`time.${cls || "text-body-secondary"}`, { datetime: iso, title: fullTime(iso), dataset: { relative: "1" } }, relativeTime(iso));
}

export function hue(text) {
  let n = 0;
  for (const ch of String(text)) n = (n * 31 + ch.codePointAt(0)) % 360;
  return n;
}

export function initials(name) {
  const parts = String(name || "?").replace(/@.*/, "").split(/[\s._-]+/).filter(Boolean);
  return ((parts[0]?.[0] || "?") + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

export function avatar(project, userId, size = "") {
  const u = user(project, userId);
  const name = userName(project, userId);
  const staff = u && (u.role === "support" || u.role === "admin");
  const p = presence(project, userId);
  const el = h(`span.avatar${size ? `.avatar-${size}` : ""}${staff || u?.unknown ? ".avatar-staff" : ""}`, {
    title: name,
    style: { "--avatar-hue": String(hue(u?.email || name)) },
    dataset: { userId: String(userId), project },
  }, u?.unknown ? icon("user") : initials(name));
  if (p) el.append(h(`span.presence-dot.presence-${p.status}`, { title: p.status }));
  return el;
}

export const STATUS_LABEL = { open: "Open", pending: "Pending", resolved: "Resolved", closed: "Closed" };
export const PRIORITY_LABEL = { low: "Low", normal: "Normal", high: "High", urgent: "Urgent" };
export const PRIORITY_RANK = { urgent: 0, high: 1, normal: 2, low: 3 };

export function statusBadge(status) {
  return h(`span.badge.rounded-pill.status-badge.status-${status}`, STATUS_LABEL[status] || status);
}

export function priorityBadge(priority, { quiet = false } = {}) {
  if (quiet && (priority === "normal" || priority === "low")) return null;
  return h(`span.badge.priority-badge.priority-${priority}`, { title: `Priority: ${PRIORITY_LABEL[priority]}` }, icon("flag"), PRIORITY_LABEL[priority] || priority);
}

export function projectChip(name) {
  return h("span.project-chip", { style: { "--project-hue": String(hue(name)) }, title: `Project ${name}` }, name);
}

export function tagChip(tag) {
  return h("span.tag-chip", icon("tag"), tag);
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function ticketPath(project, id) {
  return `/tickets/${encodeURIComponent(project)}/${id}`;
}
