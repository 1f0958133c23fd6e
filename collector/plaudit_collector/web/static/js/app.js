// The workspace's entry: pick the page module for this path, mark the nav, wire the global shortcuts.
import { api, askReviewer, chooseProject, currentProject, reviewerName, showDialog } from "./api.js";
import { clear, errorBox, h, typing } from "./dom.js";

const ROUTES = [
  [/^\/$/, "home", "Home"],
  [/^\/traces\/?$/, "traces", "Traces"],
  [/^\/traces\/([0-9a-fA-F]{32})\/?$/, "trace", "Trace"],
  [/^\/sessions\/?$/, "sessions", "Sessions"],
  [/^\/users\/?$/, "users", "Users"],
  [/^\/queues\/?$/, "queues", "Review queues"],
  [/^\/queues\/(\d+)\/?$/, "queue", "Review"],
  [/^\/leaderboard\/?$/, "leaderboard", "Leaderboard"],
  [/^\/compare\/?$/, "compare", "Compare"],
  [/^\/trend\/?$/, "trend", "Trend"],
  [/^\/segments\/?$/, "segments", "Segments"],
  [/^\/agreement\/?$/, "agreement", "Agreement"],
  [/^\/preferences\/?$/, "preferences", "Preferences"],
  [/^\/judges\/?$/, "judges", "Judges"],
  [/^\/experiments\/?$/, "experiments", "Experiments"],
  [/^\/experiments\/([^/]+)\/?$/, "experiment", "Experiment"],
];
const NAV_FOR = { trace: "traces", queue: "queues", experiment: "experiments" };

const SHORTCUTS = [
  ["/", "Focus the search box"],
  ["j / k", "Next / previous row or span"],
  ["Enter", "Open the selected row; submit a rating"],
  ["y / n", "Thumbs up / down (first yes/no score)"],
  ["1 – 9", "Pick a value on the first scale"],
  ["a / b / t", "Pairwise: A is better / B is better / Tie"],
  ["s", "Skip the item (review queues)"],
  ["g then t, q, l", "Go to traces, queues, leaderboard"],
  ["?", "This list"],
];

function showShortcuts() {
  showDialog(
    "Keyboard shortcuts",
    h("table", {}, h("tbody", {}, SHORTCUTS.map(([keys, what]) => h("tr", {}, h("td", {}, h("kbd", {}, keys)), h("td", {}, what))))),
  );
}

function renderWho() {
  const who = document.getElementById("who");
  const name = reviewerName();
  clear(
    who,
    name ? h("span", {}, "Reviewing as ", h("b", {}, name), " ") : h("span", {}, "No reviewer name yet "),
    h("button", { type: "button", class: "link", onclick: () => askReviewer().then(renderWho) }, name ? "change" : "set"),
  );
}

let pendingG = false;
function globalKeys(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
  if (document.querySelector("dialog[open]")) return;
  if (pendingG) {
    pendingG = false;
    const target = { t: "/traces", q: "/queues", l: "/leaderboard", h: "/", s: "/sessions", u: "/users" }[event.key];
    if (target) {
      event.preventDefault();
      location.href = target;
    }
    return;
  }
  if (event.key === "?") {
    event.preventDefault();
    showShortcuts();
  } else if (event.key === "/") {
    const search = document.querySelector('input[type="search"]');
    if (search) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  } else if (event.key === "g") {
    pendingG = true;
    setTimeout(() => (pendingG = false), 1200);
  }
}

/** Keep the chosen project in the URL of this page and of every workspace link followed from it. */
function carryProject() {
  const project = currentProject();
  if (!project) return;
  const url = new URL(location.href);
  if (url.searchParams.get("project") !== project) {
    url.searchParams.set("project", project);
    history.replaceState(null, "", url);
  }
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[href]");
    if (!link || link.origin !== location.origin || link.pathname.startsWith("/v1/") || link.pathname.startsWith("/static/")) return;
    const target = new URL(link.href);
    if (!target.searchParams.has("project")) {
      target.searchParams.set("project", project);
      link.href = target.toString();
    }
  }, true);
}

/** The project picker: shown when this caller can read more than one project. */
async function renderProjects() {
  const holder = document.getElementById("project-picker");
  let listed;
  try {
    listed = await api("/v1/projects");
  } catch {
    return; // an older collector, or no access yet: the pages say what went wrong themselves
  }
  if (!listed || (listed.projects || []).length < 2) return;
  const select = h("select", { id: "project-select" }, listed.projects.map((name) => h("option", { value: name }, name)));
  select.value = listed.current;
  select.addEventListener("change", () => {
    chooseProject(select.value === listed.default ? null : select.value);
    // a page's other parameters (a score, a filter) belong to the project left behind
    const url = new URL(location.pathname, location.origin);
    if (select.value !== listed.default) url.searchParams.set("project", select.value);
    location.href = url.toString();
  });
  clear(holder, h("label", { for: "project-select", class: "nav-title" }, "Project"), select);
  holder.hidden = false;
}

async function main() {
  const path = location.pathname;
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  const root = document.getElementById("main");
  carryProject();
  renderWho();
  renderProjects();
  document.addEventListener("plaudit:reviewer", renderWho);
  document.getElementById("shortcuts-open").addEventListener("click", showShortcuts);
  document.addEventListener("keydown", globalKeys);
  if (!route) {
    clear(root, h("h1", {}, "Not found"), h("p", { class: "muted" }, "No page at this address."));
    return;
  }
  const [pattern, name, title] = route;
  const args = path.match(pattern).slice(1);
  document.title = `${title} · Plaudit`;
  const nav = document.querySelector(`[data-nav="${NAV_FOR[name] || name}"]`);
  if (nav) nav.setAttribute("aria-current", "page");
  try {
    const page = await import(`./pages/${name}.js`);
    await page.render(root, ...args);
  } catch (err) {
    console.error(err);
    clear(root, h("h1", {}, title), errorBox(err));
  }
}

main();
