// The upload form of the home page: pick or drop a file, say what is spoken, send it with a real progress bar
// (bytes sent), then go to the video's page. Everything here is what `curl` can do too.
import { apiKey, errorMessage, formatBytes, getJSON, keyRefused, setApiKey } from "./api.js";

const form = document.getElementById("upload");
const drop = document.getElementById("drop");
const fileInput = document.getElementById("file");
const fileInfo = document.getElementById("file-info");
const language = document.getElementById("language");
const translate = document.getElementById("translate");
const hotwords = document.getElementById("hotwords");
const privateBox = document.getElementById("private");
const transcriptInput = document.getElementById("transcript");
const keyField = document.getElementById("key-field");
const keyInput = document.getElementById("api_key");
const send = document.getElementById("send");
const cancel = document.getElementById("cancel");
const progressBox = document.getElementById("progress-box");
const progress = document.getElementById("progress");
const progressText = document.getElementById("progress-text");
const errorBox = document.getElementById("error");

let info = { api_key_required: false, max_upload_bytes: Infinity, languages: [] };
let chosen = null;
let request = null;

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

function choose(file) {
  chosen = file || null;
  showError("");
  fileInfo.hidden = !chosen;
  if (!chosen) return;
  fileInfo.textContent = `${chosen.name} (${formatBytes(chosen.size)})`;
  const problem = problemWith(chosen);
  if (problem) showError(problem);
}

function problemWith(file) {
  if (file.size > info.max_upload_bytes) {
    return `This file is ${formatBytes(file.size)}: the limit is ${formatBytes(info.max_upload_bytes)}.`;
  }
  if (file.size === 0) return "This file is empty.";
  if (file.type && !/^(video|audio)\//.test(file.type)) {
    return `This is not a video or audio file (${file.type}).`;
  }
  return "";
}

async function loadInfo() {
  const answer = await getJSON("/v1/info");
  if (!answer.ok) return;
  info = answer.body;
  keyField.hidden = !info.api_key_required;
  keyInput.value = apiKey();
  // private videos play in the pages only with tokens, which need the gateway's signing key
  document.getElementById("private-field").hidden = !info.issues_tokens;
  const names = [...info.languages].sort((a, b) => a.name.localeCompare(b.name, "en"));
  for (const lang of names) {
    const label = lang.native_name === lang.name ? lang.name : `${lang.name} (${lang.native_name})`;
    language.append(new Option(label, lang.code));
  }
  for (const target of info.translate_to || []) {
    const label = document.createElement("label");
    label.className = "check";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "translate_to";
    box.value = target.code;
    box.id = `translate-${target.code}`;
    label.htmlFor = box.id;
    label.lang = target.code; // a screen reader speaks each name in its own language
    label.append(box, ` ${target.native_name}`);
    translate.append(label);
  }
}

fileInput.addEventListener("change", () => choose(fileInput.files[0]));
keyInput.addEventListener("change", () => setApiKey(keyInput.value.trim()));
for (const name of ["dragenter", "dragover"]) {
  drop.addEventListener(name, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
}
for (const name of ["dragleave", "drop"]) {
  drop.addEventListener(name, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  if (event.dataTransfer.files.length) choose(event.dataTransfer.files[0]);
});

cancel.addEventListener("click", () => request && request.abort());

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!chosen) return showError("Choose a video or audio file first.");
  const problem = problemWith(chosen);
  if (problem) return showError(problem);
  if (info.api_key_required) {
    const key = keyInput.value.trim();
    if (!key) {
      keyInput.focus();
      return showError("This gateway needs an API key to upload.");
    }
    if (await keyRefused(key)) {
      keyInput.focus();
      return showError("The API key was not accepted.");
    }
  }
  setApiKey(keyInput.value.trim());
  let transcriptId = null;
  const script = transcriptInput.files && transcriptInput.files[0];
  if (script) {
    transcriptId = await sendTranscript(script);
    if (!transcriptId) return;
  }
  upload(chosen, transcriptId);
});

// The transcript goes first (POST /v1/transcripts); the upload then names it.
async function sendTranscript(script) {
  if (script.size > 4 * 1024 * 1024) {
    showError("The transcript is too big: the limit is 4 MiB.");
    return null;
  }
  showError("");
  const headers = { "Content-Type": "text/plain; charset=utf-8" };
  if (apiKey()) headers.Authorization = "Bearer " + apiKey();
  const response = await fetch("/v1/transcripts", { method: "POST", headers, body: script });
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (response.status === 201 && body && body.transcript_id) return body.transcript_id;
  showError(errorMessage(body, `The transcript was not taken (HTTP ${response.status}).`));
  transcriptInput.focus();
  return null;
}

function upload(file, transcriptId) {
  const params = new URLSearchParams({ name: file.name });
  if (transcriptId) params.set("transcript_id", transcriptId);
  if (language.value) params.set("language", language.value);
  const targets = [...translate.querySelectorAll("input:checked")].map((box) => box.value);
  if (targets.length) params.set("translate_to", targets.join(","));
  if (hotwords.value.trim()) params.set("hotwords", hotwords.value.trim());
  if (privateBox.checked) params.set("private", "true");
  request = new XMLHttpRequest();
  request.open("POST", "/v1/videos?" + params.toString());
  if (apiKey()) request.setRequestHeader("Authorization", "Bearer " + apiKey());
  request.responseType = "json";
  request.upload.addEventListener("progress", (e) => {
    if (!e.lengthComputable) return;
    progress.value = Math.round((e.loaded / e.total) * 100);
    progressText.textContent = `${formatBytes(e.loaded)} of ${formatBytes(e.total)} sent (${progress.value}%)`;
  });
  request.addEventListener("load", () => {
    const body = request.response;
    if (request.status === 202 && body && body.video_id) {
      progress.value = 100;
      progressText.textContent = "Uploaded. Opening the video's page…";
      window.location.assign("/watch/" + encodeURIComponent(body.video_id));
      return;
    }
    finish();
    showError(explain(request.status, body));
  });
  request.addEventListener("error", () => {
    finish();
    showError("The upload was cut off: check the connection and try again.");
  });
  request.addEventListener("abort", () => {
    finish();
    progressText.textContent = "";
    showError("The upload was cancelled.");
  });
  showError("");
  progress.value = 0;
  progressText.textContent = `0 bytes of ${formatBytes(file.size)} sent`;
  progressBox.hidden = false;
  send.disabled = true;
  cancel.hidden = false;
  request.send(file);
}

function finish() {
  send.disabled = false;
  cancel.hidden = true;
  request = null;
}

function explain(status, body) {
  if (status === 401) {
    keyField.hidden = false;
    keyInput.focus();
    return "The API key was not accepted.";
  }
  if (status === 413) return `This file is too big: the limit is ${formatBytes(info.max_upload_bytes)}.`;
  if (status === 415) return "This file is not a video or audio file.";
  if (status === 503) return "The upload is stored, but captioning could not be started. Try again shortly.";
  return errorMessage(body, `The upload failed (HTTP ${status}).`);
}

loadInfo();
