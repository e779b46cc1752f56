// The caption rules of a track's language, checked as a person types (the gateway sends them
// with the track: characters a line, lines, durations, gap, reading speed). The same check as
// the server's (captions/checks.py), over one table of cases in the tests: widths count as the
// server's cue layout counts them (widths.js is made from its table), only the text a viewer
// reads counts (markup takes no room), and each problem names its rule.
import { parseTime } from "./api.js";
import { visibleText } from "./markup.js";
import { NO_WIDTH, WIDE } from "./widths.js";

function inRanges(ranges, code) {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [first, last] = ranges[middle];
    if (code < first) high = middle - 1;
    else if (code > last) low = middle + 1;
    else return true;
  }
  return false;
}

/** How much of a line `text` takes. */
export function textWidth(text, halfWidthWeight = 1) {
  let width = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (inRanges(NO_WIDTH, code)) continue;
    width += inRanges(WIDE, code) ? 1 : halfWidthWeight;
  }
  return Math.round(width * 10) / 10;
}

/** The shown lines of a cue's text (the editor's notation): trimmed, empty ones dropped. */
export function cueLines(text) {
  return text.split("\n").map((line) => line.trim().replace(/\s+/g, " ")).filter(Boolean);
}

/**
 * What is wrong with one cue: [{rule, text, wrong}]. `wrong` problems stop a save (the server
 * would refuse the file); the others are the style guide's warnings.
 */
export function cueProblems(cue, next, rules) {
  const problems = [];
  const warn = (rule, text) => problems.push({ rule, text, wrong: false });
  const stop = (rule, text) => problems.push({ rule, text, wrong: true });
  const start = parseTime(cue.startText);
  const end = parseTime(cue.endText);
  if (Number.isNaN(start)) stop("start", "The start is not a time (for example 1:02.500).");
  if (Number.isNaN(end)) stop("end", "The end is not a time (for example 1:04.000).");
  const timed = !Number.isNaN(start) && !Number.isNaN(end);
  if (timed && end <= start) stop("order", "It ends before it starts.");
  const lines = cueLines(visibleText(cue.text));
  if (!lines.length) stop("empty", "It has no text.");
  const half = rules.half_width_weight;
  if (lines.length > rules.max_lines) {
    warn("lines", `${lines.length} lines: at most ${rules.max_lines}.`);
  }
  lines.forEach((line, i) => {
    const width = textWidth(line, half);
    if (width > rules.max_chars_per_line) {
      warn("line_width", `Line ${i + 1} has ${width} characters: at most ${rules.max_chars_per_line}.`);
    }
  });
  if (timed && end > start) {
    const shown = end - start;
    if (shown < rules.min_duration_s - 0.0005) {
      warn("min_duration", `On screen ${shown.toFixed(2)} s: at least ${rules.min_duration_s.toFixed(2)} s.`);
    }
    if (shown > rules.max_duration_s + 0.0005) {
      warn("max_duration", `On screen ${shown.toFixed(1)} s: at most ${rules.max_duration_s} s.`);
    }
    const speed = textWidth(lines.join(" "), half) / shown;
    if (lines.length && speed > rules.max_chars_per_second) {
      warn("reading_speed", `${speed.toFixed(1)} characters a second: at most ${rules.max_chars_per_second}.`);
    }
  }
  if (timed && next) {
    const nextStart = parseTime(next.startText);
    if (!Number.isNaN(nextStart) && nextStart >= start) {
      if (end > nextStart) warn("overlap", "It overlaps the next cue.");
      else if (nextStart - end < rules.min_gap_s - 0.0005) {
        warn("gap", `Less than ${Math.round(rules.min_gap_s * 24)} frames before the next cue.`);
      }
    }
  }
  return problems;
}
