// Runs before the page paints (a classic script in <head>), so a dark-mode user never sees a white flash.
(function () {
  let mode = "auto";
  try {
    mode = JSON.parse(localStorage.getItem("ha.pref.theme") || '"auto"');
  } catch {
    // No storage (private mode) or a broken value: the system's preference decides.
  }
  const dark = mode === "dark" || (mode === "auto" && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.setAttribute("data-bs-theme", dark ? "dark" : "light");
})();
