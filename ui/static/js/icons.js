// A few line icons (24×24, stroked, in the style of Feather), built as SVG elements: no icon font,
// no extra download, and they take the text colour of wherever they sit.

const NS = "http://www.w3.org/2000/svg";

const SHAPES = {
  inbox: [["polyline", { points: "22 12 16 12 14 15 10 15 8 12 2 12" }], ["path", { d: "M5.45 5.11 2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.45-6.89A2 2 0 0 0 16.76 4H7.24a2 2 0 0 0-1.79 1.11z" }]],
  user: [["path", { d: "M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2" }], ["circle", { cx: 12, cy: 7, r: 4 }]],
  users: [["path", { d: "M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2" }], ["circle", { cx: 9, cy: 7, r: 4 }], ["path", { d: "M23 21v-2a4 4 0 0 0-3-3.87" }], ["path", { d: "M16 3.13a4 4 0 0 1 0 7.75" }]],
  search: [["circle", { cx: 11, cy: 11, r: 8 }], ["line", { x1: 21, y1: 21, x2: 16.65, y2: 16.65 }]],
  plus: [["line", { x1: 12, y1: 5, x2: 12, y2: 19 }], ["line", { x1: 5, y1: 12, x2: 19, y2: 12 }]],
  settings: [["circle", { cx: 12, cy: 12, r: 3 }], ["path", { d: "M19.4 15a1.65 1.65 0 0 0 .33 1.82l.06.06a2 2 0 1 1-2.83 2.83l-.06-.06a1.65 1.65 0 0 0-1.82-.33 1.65 1.65 0 0 0-1 1.51V21a2 2 0 0 1-4 0v-.09A1.65 1.65 0 0 0 9 19.4a1.65 1.65 0 0 0-1.82.33l-.06.06a2 2 0 1 1-2.83-2.83l.06-.06A1.65 1.65 0 0 0 4.68 15a1.65 1.65 0 0 0-1.51-1H3a2 2 0 0 1 0-4h.09A1.65 1.65 0 0 0 4.6 9a1.65 1.65 0 0 0-.33-1.82l-.06-.06a2 2 0 1 1 2.83-2.83l.06.06A1.65 1.65 0 0 0 9 4.68a1.65 1.65 0 0 0 1-1.51V3a2 2 0 0 1 4 0v.09a1.65 1.65 0 0 0 1 1.51 1.65 1.65 0 0 0 1.82-.33l.06-.06a2 2 0 1 1 2.83 2.83l-.06.06A1.65 1.65 0 0 0 19.4 9a1.65 1.65 0 0 0 1.51 1H21a2 2 0 0 1 0 4h-.09a1.65 1.65 0 0 0-1.51 1z" }]],
  moon: [["path", { d: "M21 12.79A9 9 0 1 1 11.21 3 7 7 0 0 0 21 12.79z" }]],
  sun: [["circle", { cx: 12, cy: 12, r: 5 }], ["line", { x1: 12, y1: 1, x2: 12, y2: 3 }], ["line", { x1: 12, y1: 21, x2: 12, y2: 23 }], ["line", { x1: 4.22, y1: 4.22, x2: 5.64, y2: 5.64 }], ["line", { x1: 18.36, y1: 18.36, x2: 19.78, y2: 19.78 }], ["line", { x1: 1, y1: 12, x2: 3, y2: 12 }], ["line", { x1: 21, y1: 12, x2: 23, y2: 12 }], ["line", { x1: 4.22, y1: 19.78, x2: 5.64, y2: 18.36 }], ["line", { x1: 18.36, y1: 5.64, x2: 19.78, y2: 4.22 }]],
  lock: [["rect", { x: 3, y: 11, width: 18, height: 11, rx: 2, ry: 2 }], ["path", { d: "M7 11V7a5 5 0 0 1 10 0v4" }]],
  eye: [["path", { d: "M1 12s4-8 11-8 11 8 11 8-4 8-11 8-11-8-11-8z" }], ["circle", { cx: 12, cy: 12, r: 3 }]],
  pencil: [["path", { d: "M17 3a2.83 2.83 0 1 1 4 4L7.5 20.5 2 22l1.5-5.5L17 3z" }]],
  paperclip: [["path", { d: "M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48" }]],
  send: [["line", { x1: 22, y1: 2, x2: 11, y2: 13 }], ["polygon", { points: "22 2 15 22 11 13 2 9 22 2" }]],
  x: [["line", { x1: 18, y1: 6, x2: 6, y2: 18 }], ["line", { x1: 6, y1: 6, x2: 18, y2: 18 }]],
  back: [["polyline", { points: "15 18 9 12 15 6" }]],
  clock: [["circle", { cx: 12, cy: 12, r: 10 }], ["polyline", { points: "12 6 12 12 16 14" }]],
  tag: [["path", { d: "M20.59 13.41l-7.17 7.17a2 2 0 0 1-2.83 0L2 12V2h10l8.59 8.59a2 2 0 0 1 0 2.82z" }], ["line", { x1: 7, y1: 7, x2: 7.01, y2: 7 }]],
  archive: [["polyline", { points: "21 8 21 21 3 21 3 8" }], ["rect", { x: 1, y: 3, width: 22, height: 5 }], ["line", { x1: 10, y1: 12, x2: 14, y2: 12 }]],
  reply: [["polyline", { points: "9 17 4 12 9 7" }], ["path", { d: "M20 18v-2a4 4 0 0 0-4-4H4" }]],
  image: [["rect", { x: 3, y: 3, width: 18, height: 18, rx: 2, ry: 2 }], ["circle", { cx: 8.5, cy: 8.5, r: 1.5 }], ["polyline", { points: "21 15 16 10 5 21" }]],
  check: [["polyline", { points: "20 6 9 17 4 12" }]],
  alert: [["circle", { cx: 12, cy: 12, r: 10 }], ["line", { x1: 12, y1: 8, x2: 12, y2: 12 }], ["line", { x1: 12, y1: 16, x2: 12.01, y2: 16 }]],
  logout: [["path", { d: "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4" }], ["polyline", { points: "16 17 21 12 16 7" }], ["line", { x1: 21, y1: 12, x2: 9, y2: 12 }]],
  keyboard: [["rect", { x: 2, y: 6, width: 20, height: 12, rx: 2 }], ["line", { x1: 6, y1: 10, x2: 6.01, y2: 10 }], ["line", { x1: 10, y1: 10, x2: 10.01, y2: 10 }], ["line", { x1: 14, y1: 10, x2: 14.01, y2: 10 }], ["line", { x1: 18, y1: 10, x2: 18.01, y2: 10 }], ["line", { x1: 8, y1: 14, x2: 16, y2: 14 }]],
  refresh: [["polyline", { points: "23 4 23 10 17 10" }], ["path", { d: "M20.49 15a9 9 0 1 1-2.12-9.36L23 10" }]],
  message: [["path", { d: "M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z" }]],
  menu: [["line", { x1: 3, y1: 12, x2: 21, y2: 12 }], ["line", { x1: 3, y1: 6, x2: 21, y2: 6 }], ["line", { x1: 3, y1: 18, x2: 21, y2: 18 }]],
  trash: [["polyline", { points: "3 6 5 6 21 6" }], ["path", { d: "M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6m3 0V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2" }]],
  mail: [["path", { d: "M4 4h16c1.1 0 2 .9 2 2v12c0 1.1-.9 2-2 2H4c-1.1 0-2-.9-2-2V6c0-1.1.9-2 2-2z" }], ["polyline", { points: "22,6 12,13 2,6" }]],
  server: [["rect", { x: 2, y: 2, width: 20, height: 8, rx: 2, ry: 2 }], ["rect", { x: 2, y: 14, width: 20, height: 8, rx: 2, ry: 2 }], ["line", { x1: 6, y1: 6, x2: 6.01, y2: 6 }], ["line", { x1: 6, y1: 18, x2: 6.01, y2: 18 }]],
  flag: [["path", { d: "M4 15s1-1 4-1 5 2 8 2 4-1 4-1V3s-1 1-4 1-5-2-8-2-4 1-4 1z" }], ["line", { x1: 4, y1: 22, x2: 4, y2: 15 }]],
  history: [["path", { d: "M3 12a9 9 0 1 0 3-6.7L3 8" }], ["polyline", { points: "3 3 3 8 8 8" }], ["polyline", { points: "12 7 12 12 15 14" }]],
  life: [["circle", { cx: 12, cy: 12, r: 10 }], ["circle", { cx: 12, cy: 12, r: 4 }], ["line", { x1: 4.93, y1: 4.93, x2: 9.17, y2: 9.17 }], ["line", { x1: 14.83, y1: 14.83, x2: 19.07, y2: 19.07 }], ["line", { x1: 14.83, y1: 9.17, x2: 19.07, y2: 4.93 }], ["line", { x1: 4.93, y1: 19.07, x2: 9.17, y2: 14.83 }]],
};

export function icon(name, extraClass = "") {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", `icon ${extraClass}`.trim());
  for (const [tag, attrs] of SHAPES[name] || SHAPES.alert) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    svg.append(el);
  }
  return svg;
}
