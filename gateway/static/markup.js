// A cue's markup in the editor's notation: the WebVTT cue tags <i>, <b>, <u>, <v Name>,
// <lang xx>, <c.class>, <ruby> and <rt> are markup; every other character is text, so "<img>"
// or "&amp;" typed by a person stay those characters. The server reads the notation with the
// same pattern (captions/markup.py). Markup is never turned into HTML: the panel builds its
// elements from a fixed list of tags, and text only as text nodes.

const KNOWN = ["i", "b", "u", "v", "lang", "c", "ruby", "rt"];
const TAG = new RegExp(`</?(?:${KNOWN.join("|")})(?:\\.[^\\s.<>&/]+)*(?:[ \\t]+[^<>\\n]*)?>`, "g");

/** [{text} | {tag, close, name}]: the notation as text pieces and known tags, in order. */
export function tokens(notation) {
  const out = [];
  let at = 0;
  for (const match of notation.matchAll(TAG)) {
    if (match.index > at) out.push({ text: notation.slice(at, match.index) });
    const raw = match[0];
    const close = raw.startsWith("</");
    const name = raw.slice(close ? 2 : 1).split(/[.\s>]/)[0];
    out.push({ tag: raw, close, name });
    at = match.index + raw.length;
  }
  if (at < notation.length) out.push({ text: notation.slice(at) });
  return out;
}

/** The text a viewer reads: the tags gone, ruby text (above its base) gone, lines trimmed. */
export function visibleText(notation) {
  let inRuby = 0;
  let text = "";
  for (const token of tokens(notation)) {
    if (token.text !== undefined) {
      if (!inRuby) text += token.text;
    } else if (token.name === "rt") {
      inRuby = token.close ? 0 : 1;
    } else if (token.name === "ruby" && token.close) {
      inRuby = 0;
    }
  }
  return text;
}

/** WebVTT cue text: the known tags as they are, every other character escaped. */
export function toVttCueText(notation) {
  const escape = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return tokens(notation).map((t) => (t.text !== undefined ? escape(t.text) : t.tag)).join("");
}

const SHOWN_AS = { i: "i", b: "b", u: "u" }; // the tags the panel shows as styles

/**
 * `notation` as DOM nodes: italics, bold and underline as <i>, <b>, <u>; other spans as their
 * text; `text(piece)` makes the nodes of each text piece (so words can be marked inside).
 */
export function markupNodes(notation, text) {
  const root = document.createDocumentFragment();
  const open = [root];
  for (const token of tokens(notation)) {
    const parent = open[open.length - 1];
    if (token.text !== undefined) {
      parent.append(...text(token.text));
    } else if (SHOWN_AS[token.name] && !token.close) {
      const element = document.createElement(SHOWN_AS[token.name]);
      element.dataset.tag = token.name;
      parent.append(element);
      open.push(element);
    } else if (SHOWN_AS[token.name] && open.length > 1) {
      const at = open.findLastIndex((e) => e !== root && e.dataset.tag === token.name);
      if (at > 0) open.length = at;
    }
  }
  return root;
}
