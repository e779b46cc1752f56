// The caption editor: change a cue's text, start and end; split, merge, add and delete cues;
// the caption rules of the track's language checked as one types; Save sends the whole track
// as WebVTT with If-Match, and a conflict (someone else saved first) is said, not overwritten.
// Re-time (a cue: its words and its neighbours') and Re-time all send the words to be timed to
// the speech (POST .../align): the cues are kept as they are and get new times; a pasted script
// is laid out as new cues by the caption rules. The pipeline makes the new revision.
import { authHeaders, el, errorMessage, formatTime, parseTime } from "./api.js";
import { toVttCueText } from "./markup.js";
import { cueLines, cueProblems } from "./rules.js";
import { unsureIn } from "./transcript.js";

/**
 * A track's cues as WebVTT text: a person's markup (<i>, <b>, <v Name>, ...) kept as tags, every
 * other character escaped, so "<img>" typed in a cue stays those characters.
 */
export function toWebVTT(cues) {
  const vttTime = (seconds) => {
    const ms = Math.max(0, Math.round(seconds * 1000));
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${pad(Math.floor(ms / 3600000))}:${pad(Math.floor(ms / 60000) % 60)}:` +
      `${pad(Math.floor(ms / 1000) % 60)}.${pad(ms % 1000, 3)}`;
  };
  const blocks = cues.map((cue) =>
    `${vttTime(cue.start)} --> ${vttTime(cue.end)}\n${toVttCueText(cueLines(cue.text).join("\n"))}\n`);
  return ["WEBVTT\n", ...blocks].join("\n");
}

export class Editor {
  /**
   * `list`: the panel's <ol>; `track`: the track document (cues, rules, etag, url);
   * `words`: unsure words; `hooks`: {seek(seconds), saved(track), conflict(), say(text, kind)}.
   */
  constructor(list, track, words, hooks) {
    this.list = list;
    this.track = track;
    this.words = words;
    this.hooks = hooks;
    this.cues = track.cues.map((cue) => ({
      startText: formatTime(cue.start),
      endText: formatTime(cue.end),
      text: cue.markup ?? cue.text, // the editor's notation: a person's markup shown as tags
      unsure: unsureIn(cue, words).map((w) => w.text),
    }));
    this.changed = false;
    this.render();
  }

  render(focus) {
    this.list.replaceChildren(...this.cues.map((cue, index) => this.row(cue, index)));
    if (!this.cues.length) {
      this.list.append(el("li", { className: "empty", text: "No cues: add one." }));
    }
    this.check();
    if (focus) this.list.querySelector(focus)?.focus();
  }

  row(cue, index) {
    const id = `cue-${index}`;
    const number = index + 1;
    const start = el("input", { type: "text", id: `${id}-start`, name: "start", inputmode: "decimal",
      autocomplete: "off", "aria-label": `Start of cue ${number}` });
    const end = el("input", { type: "text", id: `${id}-end`, name: "end", inputmode: "decimal",
      autocomplete: "off", "aria-label": `End of cue ${number}` });
    start.value = cue.startText;
    end.value = cue.endText;
    const text = el("textarea", { id: `${id}-text`, name: "text", rows: Math.max(2, cue.text.split("\n").length),
      "aria-label": `Text of cue ${number}` });
    text.value = cue.text;
    const problems = el("ul", { className: "warnings", "aria-live": "polite" });
    // Each accessible name starts with the button's visible text (WCAG 2.5.3, label in name).
    const tool = (label, action, name) => el("button", { type: "button", className: "secondary",
      "data-action": action, text: label, "aria-label": name });
    const row = el("li", { className: "cue editing", "data-cue": index },
      el("div", { className: "times" },
        el("div", {}, el("label", { for: start.id, text: "Start" }), start),
        el("div", {}, el("label", { for: end.id, text: "End" }), end),
        el("button", { type: "button", className: "quiet", "data-action": "play",
          text: "▶ Play", "aria-label": `Play cue ${number}` })),
      text,
      cue.unsure.length ? el("p", { className: "unsure",
        text: `Hard to hear, check: ${cue.unsure.join(", ")}` }) : "",
      el("div", { className: "tools" },
        tool("Split", "split", `Split at the cursor (cue ${number})`),
        tool("Merge with next", "merge", `Merge with next (cue ${number} and ${number + 1})`),
        tool("Add after", "add", `Add after cue ${number}`),
        tool("Re-time", "retime", `Re-time (cue ${number} and its neighbours)`),
        tool("Delete", "delete", `Delete (cue ${number})`)),
      problems);
    start.addEventListener("input", () => this.edit(index, "startText", start.value));
    end.addEventListener("input", () => this.edit(index, "endText", end.value));
    text.addEventListener("input", () => this.edit(index, "text", text.value));
    row.addEventListener("click", (event) => {
      const action = event.target.closest?.("button")?.dataset.action;
      if (action) this.act(action, index, text);
    });
    return row;
  }

  edit(index, field, value) {
    this.cues[index][field] = value;
    this.changed = true;
    this.check();
  }

  act(action, index, textarea) {
    const cue = this.cues[index];
    const start = parseTime(cue.startText);
    const end = parseTime(cue.endText);
    if (action === "play") {
      if (!Number.isNaN(start)) this.hooks.seek(start);
      return;
    }
    if (action === "retime") {
      this.retime(null, index);
      return;
    }
    if (action === "split") {
      const at = textarea.selectionStart || Math.floor(cue.text.length / 2);
      const middle = Number.isNaN(start) || Number.isNaN(end) ? start : (start + end) / 2;
      const second = { startText: formatTime(middle), endText: cue.endText,
        text: cue.text.slice(at).trim(), unsure: [] };
      cue.text = cue.text.slice(0, at).trim();
      cue.endText = formatTime(middle);
      this.cues.splice(index + 1, 0, second);
      this.changed = true;
      this.render(`#cue-${index + 1}-text`);
    } else if (action === "merge" && index + 1 < this.cues.length) {
      const next = this.cues[index + 1];
      cue.text = `${cueLines(cue.text).join(" ")} ${cueLines(next.text).join(" ")}`.trim();
      cue.endText = next.endText;
      cue.unsure = [...cue.unsure, ...next.unsure];
      this.cues.splice(index + 1, 1);
      this.changed = true;
      this.render(`#cue-${index}-text`);
    } else if (action === "add") {
      const from = Number.isNaN(end) ? 0 : end + 0.1;
      this.cues.splice(index + 1, 0, { startText: formatTime(from), endText: formatTime(from + 2),
        text: "", unsure: [] });
      this.changed = true;
      this.render(`#cue-${index + 1}-text`);
    } else if (action === "delete") {
      this.cues.splice(index, 1);
      this.changed = true;
      this.render(`#cue-${Math.min(index, this.cues.length - 1)}-text`);
    }
  }

  /** A new cue at `seconds` (where the video is), in time order. */
  addAt(seconds) {
    const index = this.cues.findIndex((cue) => parseTime(cue.startText) > seconds);
    const at = index < 0 ? this.cues.length : index;
    this.cues.splice(at, 0, { startText: formatTime(seconds), endText: formatTime(seconds + 2),
      text: "", unsure: [] });
    this.changed = true;
    this.render(`#cue-${at}-text`);
  }

  /** Check every cue; returns the number of problems that stop a save. */
  check() {
    let stopping = 0;
    const rows = this.list.querySelectorAll("li.cue.editing");
    this.cues.forEach((cue, index) => {
      const problems = cueProblems(cue, this.cues[index + 1], this.track.rules);
      const row = rows[index];
      if (!row) return;
      const box = row.querySelector(".warnings");
      box.replaceChildren(...problems.map((p) => el("li", { className: p.wrong ? "wrong" : "",
        text: p.text })));
      row.classList.toggle("wrong", problems.some((p) => p.wrong));
      row.classList.toggle("warned", problems.length > 0 && !problems.some((p) => p.wrong));
      stopping += problems.filter((p) => p.wrong).length;
    });
    return stopping;
  }

  /** The cues as a track: their times, in order (a time not yet typed right: the one before). */
  timedCues() {
    let last = 0;
    return this.cues.map((cue) => {
      const start = Number.isNaN(parseTime(cue.startText)) ? last : parseTime(cue.startText);
      const end = Number.isNaN(parseTime(cue.endText)) ? start : parseTime(cue.endText);
      last = Math.max(start, end);
      return { start, end: Math.max(start, end), text: cue.text };
    });
  }

  /**
   * Time words to the speech. `script` (pasted text): its words, laid out as new cues. Without
   * one, the cues as they are now (a changed cue's new words with them) keep their text and get
   * new times: all of them, or, given `index`, that cue and its neighbours. The pipeline makes
   * a new revision; `hooks.retiming(revision)` follows it.
   */
  async retime(script, index) {
    const pasted = typeof script === "string" && script.trim();
    const cues = this.timedCues();
    if (!pasted && cues.some((cue) => !cue.text.trim())) {
      this.hooks.say("Fill in or delete the empty cues first: every cue needs words to time.", "bad");
      return;
    }
    if (!pasted && !cues.length) {
      this.hooks.say("There are no words to time: type or paste them first.", "bad");
      return;
    }
    let query = "";
    if (!pasted) {
      query = "?keep_cues=true";
      if (Number.isInteger(index)) {
        query += `&retime_from=${Math.max(1, index)}&retime_to=${Math.min(cues.length, index + 2)}`;
      }
    }
    this.hooks.say("Timing the words to the speech…", "info");
    const response = await fetch(`${this.track.url}/align${query}`, {
      method: "POST",
      headers: { ...authHeaders(), "If-Match": `"${this.track.etag}"`,
        "Content-Type": pasted ? "text/plain; charset=utf-8" : "text/vtt; charset=utf-8" },
      body: pasted ? script : toWebVTT(cues),
    });
    const answer = await this.answered(response, "try again", "Not re-timed");
    if (answer) {
      this.changed = false;
      this.hooks.retiming(this.track.revision);
    }
  }

  /**
   * The JSON of a write's answer when it was taken; otherwise null, after saying why: someone
   * else's change first (`hooks.conflict`), a refused key ("type it above and `retry`"), or
   * the error, after `failed`.
   */
  async answered(response, retry, failed) {
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (response.ok) return body || {};
    if (response.status === 412) {
      this.hooks.conflict();
    } else if (response.status === 401) {
      this.hooks.say(`The API key was not accepted: type it above and ${retry}.`, "bad");
    } else {
      this.hooks.say(errorMessage(body, `${failed} (HTTP ${response.status}).`), "bad");
    }
    return null;
  }

  async save() {
    const stopping = this.check();
    if (stopping) {
      this.hooks.say(`Fix the ${stopping} problem${stopping > 1 ? "s" : ""} marked in red first.`, "bad");
      return;
    }
    const cues = this.cues
      .map((cue) => ({ start: parseTime(cue.startText), end: parseTime(cue.endText), text: cue.text }))
      .sort((a, b) => a.start - b.start);
    if (!cues.length) {
      this.hooks.say("A track needs at least one cue (to remove it, delete the track).", "bad");
      return;
    }
    this.hooks.say("Saving…", "info");
    const response = await fetch(this.track.url, {
      method: "PUT",
      headers: { ...authHeaders(), "Content-Type": "text/vtt; charset=utf-8",
        "If-Match": `"${this.track.etag}"` },
      body: toWebVTT(cues),
    });
    const body = await this.answered(response, "save again", "Not saved");
    if (body) {
      this.changed = false;
      this.hooks.saved(body);
    }
  }
}
