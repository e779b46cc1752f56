// The player: the video, one <track> per caption track, and a language menu in native names.
// The menu's choice is the one showing track; the browser (or the user, through the native
// controls) may switch tracks itself: a single track chosen there becomes the choice.
import { el, withToken } from "./api.js";

export function trackLabel(entry) {
  return entry.kind === "subtitles" ? `${entry.label} (translation)` : entry.label;
}

export class Player {
  constructor(video, menu, onChoose) {
    this.video = video;
    this.menu = menu;
    this.onChoose = onChoose;
    this.entries = [];
    this.chosen = "";
    menu.addEventListener("change", () => this.choose(menu.value));
    video.textTracks.addEventListener("change", () => this.followNativeControls());
  }

  /** One <track> per ready caption track (`entries` from the captions list). */
  setTracks(entries, preferred) {
    for (const track of [...this.video.querySelectorAll("track")]) track.remove();
    while (this.menu.options.length > 1) this.menu.remove(1);
    this.entries = entries.filter((entry) => entry.urls);
    for (const entry of this.entries) {
      // The revision in the URL: an edit is a new URL, never a stale copy from a cache.
      this.video.append(el("track", { kind: entry.kind, srclang: entry.language,
        label: trackLabel(entry), src: withToken(`${entry.urls.vtt}?revision=${entry.revision}`) }));
      this.menu.append(new Option(trackLabel(entry), entry.language));
    }
    const first = this.entries.find((e) => e.language === preferred) || this.entries[0];
    this.choose(first ? first.language : "");
  }

  choose(language) {
    this.chosen = language;
    this.menu.value = language;
    this.apply();
    this.onChoose(language);
  }

  apply() {
    const tracks = this.video.textTracks;
    for (let i = 0; i < tracks.length; i++) {
      const mode = tracks[i].language === this.chosen ? "showing" : "disabled";
      if (tracks[i].mode !== mode) tracks[i].mode = mode;
    }
  }

  followNativeControls() {
    const tracks = [...this.video.textTracks];
    const showing = tracks.filter((t) => t.mode === "showing");
    if (showing.length === 1 && showing[0].language !== this.chosen) {
      this.choose(showing[0].language);
    } else if (showing.length === 0 && this.chosen) {
      this.chosen = "";
      this.menu.value = "";
    } else {
      this.apply();
    }
  }
}
