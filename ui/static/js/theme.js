// Runs before the page paints (a classic script in <head>), so a dark-mode user never sees a white flash.
(function () {
  var mode = "auto";
  try {
    mode = JSON.parse(localStorage.getItem("ha.pref.theme") || '"auto"');
  } catch (e) {}
  var dark = mode === "dark" || (mode === "auto" && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.setAttribute("data-bs-theme", dark ? "dark" : "light");
})();
