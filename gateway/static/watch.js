// The watch page: the video, its caption tracks, the transcript panel that follows playback,
// and the caption editor. It knows the video only through the JSON API.
import {
  apiKey, authHeaders, el, errorMessage, getJSON, keyRefused, setApiKey, setReadToken, withToken,
} from "./api.js";
import { Editor } from "./editor.js";
import { Player, trackLabel } from "./player.js";
import { highlight, renderCues, unsureWords } from "./transcript.js";

const POLL_MS = 2000;
const videoId = decodeURIComponent(window.location.pathname.replace(/\/+$/, "").split("/").pop());
const base = `/v1/videos/${encodeURIComponent(videoId)}`;

const $ = (id) => document.getElementById(id);
const video = $("player");
const title = $("title");
const notice = $("notice");
const list = $("cues");
const panelTitle = $("panel-title");
const panelMeta = $("panel-meta");
const legend = $("legend");
const editButton = $("edit");
const editorBar = $("editor-bar");
const keyField = $("key-field");
const keyInput = $("api_key");
const saveStatus = $("save-status");
const conflict = $("conflict");
const downloads = $("downloads");

let info = { api_key_required: false };
let status = null;
let captions = [];
let words = [];
let track = null;
let editor = null;
let active = -1;

const player = new Player(video, $("language"), (language) => {
  showDownloads(language);
  if (language && !editor) showTrack(language);
});

function say(text, kind = "info") {
  notice.textContent = text;
  notice.className = `alert ${kind}`;
  notice.hidden = !text;
}

function sayInEditor(text, kind = "info") {
  saveStatus.textContent = text;
  saveStatus.className = `status ${kind === "bad" ? "alert bad" : kind === "good" ? "alert good" : ""}`;
}

function seek(seconds) {
  video.currentTime = seconds + 0.001;
  video.play().catch(() => {}); // a browser may refuse to play before a gesture; seeking stays
}

function showDownloads(language) {
  const entry = captions.find((c) => c.language === language && c.urls);
  downloads.hidden = !entry;
  if (!entry) return;
  // One link a caption format the gateway serves (its format registry, through /v1/info).
  $("download-links").replaceChildren(...(info.formats || []).filter((f) => entry.urls[f.name])
    .flatMap((f, k) => [k ? " " : "", el("a", { id: `download-${f.name}`, href: entry.urls[f.name],
      download: `${fileStem()}.${entry.language}.${f.name}`, text: f.title })]));
}

function fileStem() {
  const name = (status && status.name) || videoId;
  return name.replace(/\.[^.]+$/, "");
}

async function showTrack(language) {
  const answer = await getJSON(`${base}/captions/${encodeURIComponent(language)}`);
  if (!answer.ok) {
    panelMeta.textContent = errorMessage(answer.body, "This track could not be loaded.");
    list.replaceChildren();
    return;
  }
  track = answer.body;
  const spoken = status && language === status.language;
  renderCues(list, track.cues, spoken ? words : [], seek);
  legend.hidden = !list.querySelector("mark");
  describeTrack();
  editButton.hidden = false;
  active = highlight(list, video.currentTime, -2);
}

// "whisper+firefox" -> "Whisper, then Firefox Translations"
function translatorNames(route) {
  const names = { whisper: "Whisper", firefox: "Firefox Translations" };
  return route
    .split("+")
    .map((part) => names[part] || part.replace(/^ctranslate2:/, ""))
    .join(", then ");
}

function describeTrack() {
  panelTitle.textContent = `Transcript: ${trackLabel(track)}`;
  const who = track.maker === "aligned"
    ? `a person's words timed to the speech (${track.aligned} aligned, ${track.interpolated} with no speech)`
    : track.generated ? "made by the model" : "edited by a person";
  const when = new Date(track.updated_at).toLocaleString();
  let from = "";
  if (track.source) {
    const source = captions.find((c) => c.language === track.source.language);
    const name = source ? trackLabel(source) : track.source.language;
    const through = track.source.via ? ` through ${track.source.via === "en" ? "English" : track.source.via}` : "";
    from = `, translated from ${name} (revision ${track.source.revision})${through} by ${translatorNames(track.source.translator)}`;
  }
  const stale = track.stale ? ` Stale: the ${track.source.language} captions changed since; ask for a new translation or correct this one.` : "";
  panelMeta.textContent = `Revision ${track.revision}, ${who}, ${when}${from}.${stale}`;
}

async function loadCaptions() {
  const answer = await getJSON(`${base}/captions`);
  if (!answer.ok) return;
  captions = answer.body.captions;
  const transcript = await getJSON(`${base}/transcript`);
  words = transcript.ok ? unsureWords(transcript.body) : [];
  const keep = player.chosen || (status && status.language);
  player.setTracks(captions, keep);
  const ready = captions.filter((c) => c.urls);
  if (!ready.length) {
    panelMeta.textContent = "No speech was found, so there are no captions.";
    list.replaceChildren();
  }
  const making = captions.filter((c) => c.status === "generating");
  const failed = captions.filter((c) => c.status === "failed");
  if (making.length) {
    say(`Making ${making.map(trackLabel).join(", ")} captions again…`);
    keepWatching();
  } else if (failed.length) {
    const first = failed[0];
    say(`${trackLabel(first)} ${first.kind === "subtitles" ? "subtitles" : "captions"} could not be made: ${first.error ? first.error.message : "unknown error"}`, "bad");
  } else {
    say("");
  }
}

// One polling loop, while the video is being captioned or a track is being made again.
let polling = null;

function keepWatching() {
  if (!polling) polling = setTimeout(poll, POLL_MS);
}

async function poll() {
  polling = null;
  const answer = await getJSON(base);
  if (!answer.ok) return keepWatching();
  status = answer.body;
  if (status.status !== "ready") return showStatus();
  if (!editor) loadCaptions(); // an open editor keeps its track; what was made shows after
}

function showStatus() {
  if (status.status === "processing") {
    say("Captions are being made…");
    keepWatching();
  } else if (status.status === "failed") {
    say(`Captions could not be made: ${status.error.code}: ${status.error.message}`, "bad");
  } else {
    say("");
    loadCaptions();
  }
}

function openEditor() {
  if (!track) return;
  keyField.hidden = !info.api_key_required;
  keyInput.value = apiKey();
  editorBar.hidden = false;
  editButton.hidden = true;
  conflict.hidden = true;
  sayInEditor("");
  const spoken = status && track.language === status.language;
  editor = new Editor(list, track, spoken ? words : [], {
    seek,
    say: sayInEditor,
    saved: afterSave,
    retiming: followRetiming,
    conflict: () => {
      conflict.hidden = false;
      sayInEditor("");
      $("reload").focus();
    },
  });
}

async function afterSave(entry) {
  sayInEditor(`Saved as revision ${entry.revision}.`, "good");
  const answer = await getJSON(`${base}/captions/${encodeURIComponent(entry.language)}`);
  if (answer.ok) {
    track = answer.body;
    describeTrack();
    const spoken = status && track.language === status.language;
    editor = new Editor(list, track, spoken ? words : [], editor.hooks);
  }
  const listed = await getJSON(`${base}/captions`);
  if (listed.ok) {
    captions = listed.body.captions;
    player.setTracks(captions, track ? track.language : player.chosen);
  }
}

// Follow a re-timing: the track's entry until a newer revision is ready (or it failed).
async function followRetiming(revision) {
  const language = track.language;
  const deadline = Date.now() + 15 * 60 * 1000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const listed = await getJSON(`${base}/captions`);
    const entry = listed.ok ? listed.body.captions.find((c) => c.language === language) : null;
    if (!entry) continue;
    if (entry.status === "failed") {
      sayInEditor(`Not re-timed: ${entry.error ? entry.error.message : "unknown error"}`, "bad");
      return;
    }
    if (entry.status === "ready" && entry.revision > revision) {
      await afterSave(entry);
      const counts = entry.maker === "aligned"
        ? `: ${entry.aligned} words timed to the speech, ${entry.interpolated} with no speech to time them`
        : "";
      sayInEditor(`Re-timed as revision ${entry.revision}${counts}.`, "good");
      return;
    }
  }
  sayInEditor("Re-timing takes long: reload the page later to see it.", "bad");
}

function closeEditor() {
  if (editor && editor.changed && !window.confirm("Leave the editor without saving your changes?")) {
    return;
  }
  editor = null;
  editorBar.hidden = true;
  if (track) showTrack(track.language);
}

editButton.addEventListener("click", openEditor);
$("done").addEventListener("click", closeEditor);
// A write from the editor bar, once the key typed above is known to be accepted.
function withKey(write, retry) {
  return async () => {
    setApiKey(keyInput.value.trim());
    if (!editor) return;
    if (info.api_key_required && (await keyRefused(apiKey()))) {
      keyInput.focus();
      sayInEditor(`The API key was not accepted: type it above and ${retry}.`, "bad");
      return;
    }
    write();
  };
}

$("save").addEventListener("click", withKey(() => editor.save(), "save again"));
$("add-cue").addEventListener("click", () => editor && editor.addAt(video.currentTime));
$("retime-all").addEventListener("click", withKey(() => editor.retime($("script").value), "try again"));
keyInput.addEventListener("change", () => setApiKey(keyInput.value.trim()));
$("reload").addEventListener("click", async () => {
  editor = null;
  conflict.hidden = true;
  await showTrack(track.language);
  openEditor();
  sayInEditor("Their version is loaded.", "info");
});
$("keep").addEventListener("click", () => {
  conflict.hidden = true;
});
video.addEventListener("timeupdate", () => {
  if (!editor) active = highlight(list, video.currentTime, active);
});
window.addEventListener("beforeunload", (event) => {
  if (editor && editor.changed) event.preventDefault();
});

// A private video: the page's ?token= reads it; the holder of the API key gets a token issued
// for the player (a <video> or <track> cannot send the key).
async function issueToken() {
  try {
    const response = await fetch(`${base}/token`, { method: "POST", headers: authHeaders() });
    if (!response.ok) return false;
    setReadToken((await response.json()).token);
    return true;
  } catch (error) {
    return false;
  }
}

async function start() {
  const given = new URLSearchParams(window.location.search).get("token");
  if (given) setReadToken(given);
  let [infoAnswer, statusAnswer] = await Promise.all([getJSON("/v1/info"), getJSON(base)]);
  if (!given && statusAnswer.status === 404 && (await issueToken())) {
    statusAnswer = await getJSON(base); // private, and this tab holds the key
  } else if (!given && statusAnswer.ok && statusAnswer.body.private) {
    await issueToken();
  }
  if (infoAnswer.ok) info = infoAnswer.body;
  if (!statusAnswer.ok) {
    title.textContent = statusAnswer.status === 404 ? "No such video" : "This video cannot be shown";
    document.title = `${title.textContent} · autocaption`;
    say(errorMessage(statusAnswer.body, "The video's status could not be read."), "bad");
    return;
  }
  status = statusAnswer.body;
  title.textContent = status.name || videoId;
  document.title = `${title.textContent} · autocaption`;
  if (status.source_url) video.src = withToken(status.source_url);
  showStatus();
}

start();
