// The editor's caption rules (gateway/static/rules.js) and its markup notation
// (gateway/static/markup.js) over the table the server's check passes too
// (tests/data/caption_rule_cases.json; tests/unit/test_page_rules.py runs this file).
import { readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";

import { formatTime } from "../../gateway/static/api.js";
import { toVttCueText, visibleText } from "../../gateway/static/markup.js";
import { cueProblems, textWidth } from "../../gateway/static/rules.js";

const cases = JSON.parse(readFileSync(new URL("../data/caption_rule_cases.json", import.meta.url)));

for (const c of cases.cues) {
  test(`rules: ${c.name}`, () => {
    const cue = { startText: formatTime(c.start), endText: formatTime(c.end), text: c.text };
    const next = c.next_start === null ? undefined : { startText: formatTime(c.next_start) };
    const found = cueProblems(cue, next, cases.rules[c.language]).map((p) => p.rule);
    assert.deepEqual(found, c.expected);
  });
}

for (const c of cases.widths) {
  test(`width: ${c.text}`, () => {
    assert.equal(textWidth(c.text, c.half_width_weight), c.width);
  });
}

for (const c of cases.markup) {
  test(`markup: ${c.notation}`, () => {
    assert.equal(visibleText(c.notation), c.visible);
    assert.equal(toVttCueText(c.notation), c.vtt);
  });
}
