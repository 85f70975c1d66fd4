// Light, dark, or whatever the system prefers (and following it when it changes).

import { pref, setPref } from "./store.js";

const media = window.matchMedia("(prefers-color-scheme: dark)");

export function currentTheme() {
  return pref("theme", "auto");
}

export function effectiveTheme() {
  const mode = currentTheme();
  return mode === "auto" ? (media.matches ? "dark" : "light") : mode;
}

export function applyTheme(mode = currentTheme()) {
  setPref("theme", mode);
  document.documentElement.setAttribute("data-bs-theme", effectiveTheme());
  document.dispatchEvent(new CustomEvent("themechange"));
}

media.addEventListener("change", () => {
  if (currentTheme() === "auto") applyTheme("auto");
});
