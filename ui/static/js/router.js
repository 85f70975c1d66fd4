// History-API routing: /, /tickets/:project/:id, /new, /settings, /signin. The ui serves index.html
// for every such path, so a reload or a pasted deep link lands on the same view.

const listeners = new Set();

export function parseRoute(pathname = location.pathname) {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "tickets" && parts.length >= 3 && /^\d+$/.test(parts[2])) {
    return { name: "ticket", project: parts[1], id: Number(parts[2]) };
  }
  if (parts[0] === "new") return { name: "new" };
  if (parts[0] === "settings") return { name: "settings" };
  if (parts[0] === "signin") return { name: "signin" };
  return { name: "inbox" };
}

export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  notify();
}

export function onRoute(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify() {
  const route = parseRoute();
  for (const fn of listeners) fn(route);
}

window.addEventListener("popstate", notify);

// Plain links inside the app navigate without a page load; modified clicks keep their meaning.
document.addEventListener("click", (e) => {
  const a = e.target instanceof Element ? e.target.closest("a[data-link]") : null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute("href"));
});
