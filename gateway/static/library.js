// The library on the home page: the newest videos first, a search by name and a status filter,
// "Show more" by the list's cursor, and the videos still being captioned updating themselves.
import { authHeaders, el, errorMessage } from "./api.js";

const PAGE = 20;
const list = document.getElementById("videos");
const note = document.getElementById("library-note");
const more = document.getElementById("more");
const search = document.getElementById("search");
const query = document.getElementById("q");
const statusFilter = document.getElementById("status-filter");
const keyInput = document.getElementById("api_key");

let cursor = null;
let shown = new Map(); // video id -> its <li>
let generation = 0; // a newer search makes the answers of an older one moot

async function fetchPage(after, limit = PAGE) {
  const params = new URLSearchParams({ limit: String(limit) });
  if (query.value.trim()) params.set("q", query.value.trim());
  if (statusFilter.value) params.set("status", statusFilter.value);
  if (after) params.set("cursor", after);
  const response = await fetch("/v1/videos?" + params, { cache: "no-store", headers: authHeaders() });
  const body = await response.json().catch(() => null);
  return { ok: response.ok, status: response.status, body };
}

function describe(video) {
  const parts = [new Date(video.uploaded_at).toLocaleString()];
  if (video.duration_s) parts.push(duration(video.duration_s));
  if (video.languages.length) parts.push(video.languages.join(", "));
  if (video.error) parts.push(video.error.message);
  return parts.join(" · ");
}

function duration(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

const STATUS_TEXT = { processing: "Processing", ready: "Ready", failed: "Failed" };

function item(video) {
  const badges = el("p", { className: "meta" },
    el("span", { className: `badge ${video.status}`, text: STATUS_TEXT[video.status] }));
  if (video.private) badges.append(el("span", { className: "badge private", text: "Private" }));
  return el("li", { "data-video": video.video_id, "data-status": video.status },
    el("a", { href: `/watch/${encodeURIComponent(video.video_id)}`, text: video.name }),
    badges,
    el("p", { className: "meta", text: describe(video) }));
}

function show(videos) {
  for (const video of videos) {
    const fresh = item(video);
    const old = shown.get(video.video_id);
    if (old) old.replaceWith(fresh);
    else list.append(fresh);
    shown.set(video.video_id, fresh);
  }
}

async function load(reset) {
  const mine = reset ? ++generation : generation;
  const answer = await fetchPage(reset ? null : cursor);
  if (mine !== generation) return;
  if (reset) {
    list.replaceChildren();
    shown = new Map();
  }
  if (!answer.ok) {
    more.hidden = true;
    note.textContent = answer.status === 401
      ? "Type the gateway's API key in the form to see the library."
      : errorMessage(answer.body, "The library could not be read.");
    return;
  }
  show(answer.body.videos);
  cursor = answer.body.next_cursor;
  more.hidden = !cursor;
  const filtered = query.value.trim() || statusFilter.value;
  note.textContent = shown.size ? "" : filtered ? "No video matches." : "No videos yet: upload one.";
}

// The videos still being captioned: the first page again every few seconds, updated in place.
async function refresh() {
  if (![...shown.values()].some((li) => li.dataset.status === "processing")) return;
  const answer = await fetchPage(null, Math.min(100, Math.max(PAGE, shown.size)));
  if (answer.ok) show(answer.body.videos.filter((v) => shown.has(v.video_id)));
}

let typing = null;
query.addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => load(true), 250);
});
statusFilter.addEventListener("change", () => load(true));
search.addEventListener("submit", (event) => {
  event.preventDefault();
  load(true);
});
more.addEventListener("click", () => load(false));
if (keyInput) keyInput.addEventListener("change", () => setTimeout(() => load(true), 0));
setInterval(refresh, 3000);
load(true);
