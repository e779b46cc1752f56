// What every page shares: the JSON API, the API key of this tab, and how times and sizes read.
// Text from people or models goes into the page only as textContent or form values.

const KEY_NAME = "autocaption.api_key";

/** The API key typed in this tab (kept only for the tab's session). */
export function apiKey() {
  return sessionStorage.getItem(KEY_NAME) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_NAME, key);
  else sessionStorage.removeItem(KEY_NAME);
}

/**
 * Asked before a write, so a refused key is said at once, not after sending a file or a track:
 * false when the gateway needs a key and does not take `key`; true when it takes it; null when
 * it needs none, or could not be asked (the write itself then tells).
 */
export async function keyRefused(key) {
  try {
    const response = await fetch("/v1/info", { cache: "no-store",
      headers: key ? { Authorization: "Bearer " + key } : {} });
    const info = response.ok ? await response.json() : null;
    return Boolean(info && info.api_key_required && info.api_key_accepted === false);
  } catch (error) {
    return false;
  }
}

/** Headers of a write: the key, when there is one. */
export function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: "Bearer " + key } : {};
}

let readToken = "";

/** The playback token of a private video (from the page's ?token=, or issued for the key). */
export function setReadToken(token) {
  readToken = token || "";
}

/** `url` with the playback token, for what cannot send a header (<video src>, <track src>). */
export function withToken(url) {
  if (!readToken || !url) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(readToken);
}

/** GET a JSON document (with the key, and the token of a private video); {ok, status, body,
 * etag}. */
export async function getJSON(url) {
  const target = url.startsWith("/v1/videos") ? withToken(url) : url;
  const response = await fetch(target, { cache: "no-store", headers: authHeaders() });
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  return { ok: response.ok, status: response.status, body, etag: response.headers.get("ETag") };
}

/** The message of an error answer ({"error": {"code", "message"}}), or a fallback. */
export function errorMessage(body, fallback) {
  return body && body.error && body.error.message ? body.error.message : fallback;
}

/** 83.5 -> "1:23.500"; 3723 -> "1:02:03.000". */
export function formatTime(seconds) {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3600000);
  const m = Math.floor((ms % 3600000) / 60000);
  const s = Math.floor((ms % 60000) / 1000);
  const rest = String(ms % 1000).padStart(3, "0");
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}.${rest}` : `${m}:${ss}.${rest}`;
}

/** "1:23.5", "01:02:03,250", "83.5" -> seconds; NaN when it is not a time. */
export function parseTime(text) {
  const match = /^\s*(?:(?:(\d+):)?(\d{1,2}):)?(\d+(?:[.,]\d{1,3})?)\s*$/.exec(text);
  if (!match) return NaN;
  const [, h, m, s] = match;
  const seconds = Number(s.replace(",", "."));
  if (m !== undefined && seconds >= 60) return NaN;
  if (h !== undefined && Number(m) >= 60) return NaN;
  return Number(h || 0) * 3600 + Number(m || 0) * 60 + seconds;
}

/** 1536000 -> "1.5 MB". */
export function formatBytes(bytes) {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** An element with attributes and children (strings become text nodes, never markup). */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") element.textContent = value;
    else if (name === "className") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}
