// The W3C's WebVTT parser (npm webvtt-parser, the one behind the W3C's online validator) as a
// small line protocol: each line on stdin is a JSON array of WebVTT texts; the answer, one
// line on stdout, is a JSON array of each text's errors ("line N: message"). Kept running by
// tests/webvtt_validator.py, so a property test can check hundreds of tracks quickly.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(import.meta.url);
const { WebVTTParser } = require("webvtt-parser");

const parser = new WebVTTParser();
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  const texts = JSON.parse(line);
  const problems = texts.map((text) =>
    parser.parse(text, "metadata").errors.map((e) => `line ${e.line}: ${e.message}`),
  );
  process.stdout.write(JSON.stringify(problems) + "\n");
}
