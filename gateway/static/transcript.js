// The transcript panel: every cue with its times; a click plays from it; the cue being spoken
// is highlighted and kept in view; words the model was unsure of are marked for review.
import { el, formatTime } from "./api.js";
import { markupNodes } from "./markup.js";

export const UNSURE_BELOW = 0.5; // word probability under which a word is marked

const PUNCTUATION = /^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu;
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]/u;

/** Words of transcript.json the model was unsure of: [{text, start, end, probability}]. */
export function unsureWords(transcript) {
  const words = [];
  for (const segment of transcript?.segments || []) {
    for (const word of segment.words || []) {
      const text = String(word.text || "").replace(PUNCTUATION, "");
      if (text && typeof word.probability === "number" && word.probability < UNSURE_BELOW) {
        words.push({ text, start: word.start, end: word.end, probability: word.probability });
      }
    }
  }
  return words;
}

/** The unsure words spoken during a cue (by the middle of each word), in order. */
export function unsureIn(cue, words) {
  return words.filter((w) => {
    const middle = (w.start + w.end) / 2;
    return middle >= cue.start && middle < cue.end;
  });
}

/**
 * `text` as nodes, with each unsure word (in spoken order) inside a <mark>; words in `used` are
 * passed over, and the words marked here are added to it (a cue's text comes in pieces when
 * it has markup).
 */
export function markedText(text, unsure, used = new Set()) {
  const ranges = [];
  let cursor = 0;
  for (const word of unsure) {
    if (used.has(word)) continue;
    let at = text.indexOf(word.text, cursor);
    while (at >= 0 && !standsAlone(text, at, word.text)) at = text.indexOf(word.text, at + 1);
    if (at < 0) continue;
    used.add(word);
    ranges.push([at, at + word.text.length, word]);
    cursor = at + word.text.length;
  }
  const nodes = [];
  let last = 0;
  for (const [from, to, word] of ranges) {
    if (from > last) nodes.push(document.createTextNode(text.slice(last, from)));
    const title = `The model was unsure of this word (${Math.round(word.probability * 100)}%)`;
    nodes.push(el("mark", { text: text.slice(from, to), title }));
    last = to;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

function standsAlone(text, at, word) {
  if (UNSPACED.test(word)) return true;
  const before = at > 0 ? text[at - 1] : " ";
  const after = at + word.length < text.length ? text[at + word.length] : " ";
  return !/[\p{L}\p{N}]/u.test(before) && !/[\p{L}\p{N}]/u.test(after);
}

/** Fill `list` with one row per cue; `seek(seconds)` is called when a row is chosen. */
export function renderCues(list, cues, words, seek) {
  list.replaceChildren();
  cues.forEach((cue, index) => {
    const time = el("button", {
      type: "button",
      className: "time",
      text: formatTime(cue.start),
      "aria-label": `Play from ${formatTime(cue.start)}`,
    });
    const unsure = unsureIn(cue, words);
    const used = new Set();
    const text = el("p", { className: "text" },
      markupNodes(cue.markup ?? cue.text, (piece) => markedText(piece, unsure, used)));
    const row = el("li", { className: "cue", "data-cue": index }, time, text);
    row.dataset.start = String(cue.start);
    row.dataset.end = String(cue.end);
    row.addEventListener("click", () => seek(cue.start));
    list.append(row);
  });
  if (!cues.length) list.append(el("li", { className: "empty", text: "This track has no cues." }));
}

/** Highlight the row being spoken at `seconds` and keep it in view; returns its index. */
export function highlight(list, seconds, previous) {
  const rows = list.querySelectorAll("li.cue");
  let current = -1;
  rows.forEach((row, index) => {
    if (Number(row.dataset.start) <= seconds && seconds < Number(row.dataset.end)) current = index;
  });
  if (current === previous) return current;
  rows.forEach((row, index) => {
    row.classList.toggle("active", index === current);
    if (index === current) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  });
  if (current >= 0) keepInView(list, rows[current]);
  return current;
}

function keepInView(list, row) {
  const top = row.offsetTop;
  const bottom = top + row.offsetHeight;
  if (top < list.scrollTop || bottom > list.scrollTop + list.clientHeight) {
    list.scrollTop = Math.max(0, top - list.clientHeight / 3);
  }
}
