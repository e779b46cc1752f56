"""`/watch/{video_id}`: one self-contained HTML page (inline CSS and JS, nothing from a CDN)
that plays the upload with every caption track and a language menu. While the captions are
being made it says so and polls the status endpoint, adding the tracks when they are ready."""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any, Final

POLL_MS: Final = 2000
_MARKER_RE: Final = re.compile(r"__(TITLE|SOURCE|TRACKS|STATUS_URL|STATUS|POLL_MS)__")

_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
  body { margin: 0; font: 16px/1.4 system-ui, sans-serif; background: #111; color: #eee; }
  main { max-width: 960px; margin: 0 auto; padding: 16px; }
  video { width: 100%; background: #000; border-radius: 6px; }
  .bar { display: flex; gap: 12px; align-items: center; margin-top: 10px; flex-wrap: wrap; }
  #notice { padding: 8px 12px; border-radius: 6px; background: #333; }
  #notice.failed { background: #7a1d1d; }
  #notice[hidden] { display: none; }
  select { font: inherit; padding: 4px 8px; }
</style>
</head>
<body>
<main>
<h1>__TITLE__</h1>
<video id="player" controls preload="metadata" crossorigin="anonymous" src="__SOURCE__">
__TRACKS__
</video>
<div class="bar">
  <label for="language">Captions</label>
  <select id="language"><option value="">Off</option></select>
  <span id="notice" role="status" hidden></span>
</div>
</main>
<script>
"use strict";
const statusUrl = __STATUS_URL__;
const video = document.getElementById("player");
const menu = document.getElementById("language");
const notice = document.getElementById("notice");

function label(track) {
  const kind = track.kind === "subtitles" ? "translation" : "captions";
  return track.language + " (" + kind + ")";
}

function addTrack(track, isDefault) {
  const element = document.createElement("track");
  element.kind = track.kind;
  element.srclang = track.language;
  element.label = label(track);
  element.src = track.url;
  if (isDefault) element.default = true;
  video.appendChild(element);
}

// The menu's choice is the one showing track. The browser may switch tracks by itself
// (automatic selection by the user's language) or the user through the native controls:
// a single track chosen there becomes the choice, anything else is put back.
let chosen = -1;

function apply() {
  for (let i = 0; i < video.textTracks.length; i++) {
    const mode = i === chosen ? "showing" : "disabled";
    if (video.textTracks[i].mode !== mode) video.textTracks[i].mode = mode;
  }
}

function show(index) {
  chosen = index;
  apply();
}

video.textTracks.addEventListener("change", () => {
  const showing = [];
  for (let i = 0; i < video.textTracks.length; i++) {
    if (video.textTracks[i].mode === "showing") showing.push(i);
  }
  if (showing.length === 1 && showing[0] !== chosen) chosen = showing[0];
  if (showing.length === 0) chosen = -1;
  menu.value = chosen < 0 ? "" : String(chosen);
  apply();
});

function fillMenu() {
  while (menu.options.length > 1) menu.remove(1);
  for (let i = 0; i < video.textTracks.length; i++) {
    const option = document.createElement("option");
    option.value = String(i);
    option.textContent = video.textTracks[i].label;
    menu.appendChild(option);
  }
  if (video.textTracks.length) { menu.value = "0"; show(0); }
}

menu.addEventListener("change", () => show(menu.value === "" ? -1 : Number(menu.value)));

function say(text, failed) {
  notice.textContent = text;
  notice.className = failed ? "failed" : "";
  notice.hidden = !text;
}

async function poll() {
  let status;
  try {
    const response = await fetch(statusUrl, {cache: "no-store"});
    status = await response.json();
  } catch (error) {
    setTimeout(poll, __POLL_MS__);
    return;
  }
  if (status.status === "processing") {
    setTimeout(poll, __POLL_MS__);
  } else if (status.status === "ready") {
    const vtt = status.tracks.filter((t) => t.format === "vtt");
    vtt.forEach((t, i) => addTrack(t, i === 0));
    fillMenu();
    say(vtt.length ? "" : "No speech was found, so there are no captions.", false);
  } else if (status.status === "failed") {
    say("Captions could not be made: " + status.error.code + ": " + status.error.message, true);
  }
}

const initial = __STATUS__;
if (initial.status === "ready") {
  fillMenu();
  if (!video.textTracks.length) say("No speech was found, so there are no captions.", false);
} else if (initial.status === "failed") {
  say("Captions could not be made: " + initial.error.code + ": " + initial.error.message, true);
} else {
  say("Captions are being made\\u2026", false);
  setTimeout(poll, __POLL_MS__);
}
</script>
</body>
</html>
"""


def _script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element ("</script>" cannot end it early)."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def track_label(track: dict[str, Any]) -> str:
    """The menu label of a track, as the page's script writes it too: "de (captions)"."""
    kind = "translation" if track["kind"] == "subtitles" else "captions"
    return f"{track['language']} ({kind})"


def watch_page(video_id: str, status: dict[str, Any], source_url: str, status_url: str) -> str:
    """The page for `video_id` in its current `status` (the status endpoint's document)."""
    vtt = [t for t in status.get("tracks", []) if t["format"] == "vtt"]
    tracks = "\n".join(
        f'<track kind="{escape(t["kind"])}" srclang="{escape(t["language"])}" '
        f'label="{escape(track_label(t))}" src="{escape(t["url"])}"{" default" if i == 0 else ""}>'
        for i, t in enumerate(vtt)
    )
    replacements = {
        "__TITLE__": escape(video_id),
        "__SOURCE__": escape(source_url),
        "__TRACKS__": tracks,
        "__STATUS_URL__": _script_json(status_url),
        "__STATUS__": _script_json(status),
        "__POLL_MS__": str(POLL_MS),
    }
    # One pass, so a value that happens to contain a marker is left as it is.
    return _MARKER_RE.sub(lambda m: replacements[m.group(0)], _PAGE)
