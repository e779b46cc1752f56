// The caption rules of a track's language, checked as a person types (the gateway sends them
// with the track: characters a line, lines, durations, gap, reading speed). Widths count as the
// server's cue layout counts them: wide (East Asian) characters 1, others `half_width_weight`,
// combining marks nothing.
import { parseTime } from "./api.js";

function isWide(cp) {
  return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd);
}

/** How much of a line `text` takes. */
export function textWidth(text, halfWidthWeight = 1) {
  let width = 0;
  for (const ch of text) {
    if (/[\p{Mn}\p{Me}\p{Cf}]/u.test(ch)) continue;
    width += isWide(ch.codePointAt(0)) ? 1 : halfWidthWeight;
  }
  return Math.round(width * 10) / 10;
}

/** The shown lines of a cue's text: trimmed, empty ones dropped. */
export function cueLines(text) {
  return text.split("\n").map((line) => line.trim().replace(/\s+/g, " ")).filter(Boolean);
}

/**
 * What is wrong with one cue: [{text, wrong}]. `wrong` problems stop a save (the server would
 * refuse the file); the others are the style guide's warnings.
 */
export function cueProblems(cue, next, rules) {
  const problems = [];
  const warn = (text) => problems.push({ text, wrong: false });
  const stop = (text) => problems.push({ text, wrong: true });
  const start = parseTime(cue.startText);
  const end = parseTime(cue.endText);
  if (Number.isNaN(start)) stop("The start is not a time (for example 1:02.500).");
  if (Number.isNaN(end)) stop("The end is not a time (for example 1:04.000).");
  const timed = !Number.isNaN(start) && !Number.isNaN(end);
  if (timed && end <= start) stop("It ends before it starts.");
  const lines = cueLines(cue.text);
  if (!lines.length) stop("It has no text.");
  const half = rules.half_width_weight;
  if (lines.length > rules.max_lines) {
    warn(`${lines.length} lines: at most ${rules.max_lines}.`);
  }
  lines.forEach((line, i) => {
    const width = textWidth(line, half);
    if (width > rules.max_chars_per_line) {
      warn(`Line ${i + 1} has ${width} characters: at most ${rules.max_chars_per_line}.`);
    }
  });
  if (timed && end > start) {
    const shown = end - start;
    if (shown < rules.min_duration_s - 0.0005) {
      warn(`On screen ${shown.toFixed(2)} s: at least ${rules.min_duration_s.toFixed(2)} s.`);
    }
    if (shown > rules.max_duration_s + 0.0005) {
      warn(`On screen ${shown.toFixed(1)} s: at most ${rules.max_duration_s} s.`);
    }
    const speed = textWidth(lines.join(" "), half) / shown;
    if (lines.length && speed > rules.max_chars_per_second) {
      warn(`${speed.toFixed(1)} characters a second: at most ${rules.max_chars_per_second}.`);
    }
  }
  if (timed && next) {
    const nextStart = parseTime(next.startText);
    if (!Number.isNaN(nextStart) && nextStart >= start) {
      if (end > nextStart) warn("It overlaps the next cue.");
      else if (nextStart - end < rules.min_gap_s - 0.0005) {
        warn(`Less than ${Math.round(rules.min_gap_s * 24)} frames before the next cue.`);
      }
    }
  }
  return problems;
}
