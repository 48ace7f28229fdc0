// Text helpers for display, with no DOM: links in messages, readable
// colors, local times.

import { safeColor } from "./protocol.js";

const URL_RE = /https?:\/\/[^\s<>"]+/gi;
const TRAILING_RE = /[.,;:!?'"*_]+$/;

/** A candidate link without the punctuation that usually ends a sentence. */
function trimLink(candidate) {
  let link = candidate.replace(TRAILING_RE, "");
  // A ')' closes the link only if the link opened one: "(see http://x/a_(b))".
  while (link.endsWith(")") && count(link, "(") < count(link, ")")) {
    link = link.slice(0, -1).replace(TRAILING_RE, "");
  }
  return link;
}

function count(text, char) {
  return text.split(char).length - 1;
}

/** The URL of `text` if it is an http or https URL, else null. */
export function httpUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** `text` split into [{text}, {text, href}, ...]: http/https links apart, everything else as text. */
export function linkSegments(text) {
  const segments = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    const link = trimLink(match[0]);
    const href = httpUrl(link);
    if (!href) continue;
    if (match.index > last) segments.push({ text: text.slice(last, match.index) });
    segments.push({ text: link, href });
    last = match.index + link.length;
  }
  if (last < text.length || segments.length === 0) segments.push({ text: text.slice(last) });
  return segments;
}

function channels(hex) {
  const digits = hex.length === 4 ? [...hex.slice(1)].map((d) => d + d) : [hex.slice(1, 3), hex.slice(3, 5), hex.slice(5, 7)];
  return digits.map((d) => parseInt(d, 16));
}

function luminance([r, g, b]) {
  const linear = (c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

function contrast(a, b) {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}

const hex2 = (n) => Math.round(n).toString(16).padStart(2, "0");

/**
 * `color` mixed toward black (light theme) or white (dark theme) just enough
 * to read against `background` (contrast 4.5:1), as `#rrggbb`. A user's
 * `#FFFFFF` stays white on a dark page and turns dark on a light one.
 */
export function readableColor(color, background) {
  const base = channels(safeColor(color));
  const bg = channels(safeColor(background, "#ffffff"));
  const target = luminance(bg) > 0.18 ? [0, 0, 0] : [255, 255, 255];
  let mixed = base;
  for (let step = 0; step <= 20 && contrast(mixed, bg) < 4.5; step++) {
    const t = step / 20;
    mixed = base.map((c, i) => c + (target[i] - c) * t);
  }
  return `#${mixed.map(hex2).join("")}`;
}

const pad = (n) => String(n).padStart(2, "0");

/**
 * When a message was sent, for display: {label, title, iso}. From `ts`
 * (epoch ms) in the browser's own time zone; else the server's `time`.
 */
export function displayTime(ts, time, now = new Date()) {
  if (ts === null || ts === undefined || !Number.isFinite(ts) || ts <= 0) {
    const clock = /(\d\d:\d\d)(:\d\d)?$/.exec(time ?? "");
    return { label: clock ? clock[1] : time ?? "", title: time ?? "", iso: "" };
  }
  const when = new Date(ts);
  const clock = `${pad(when.getHours())}:${pad(when.getMinutes())}`;
  const day = `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}`;
  const today = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  return {
    label: day === today ? clock : `${day} ${clock}`,
    title: `${day} ${clock}:${pad(when.getSeconds())}`,
    iso: when.toISOString(),
  };
}

// ---- multi-line messages on a one-line wire (parley/protocol/lines.py) ----
// "the content carries each line break as ONE SPACE, and the parameter
// `lines=` lists the positions of those spaces, as 0-based indexes in code
// points of the content, joined by `.`, increasing". Indexes are canonical
// (digits, no leading zero but `0`), inside the content, on a space; at most
// MAX_LINE_BREAKS. tests/vectors/lines.json holds this and the Python to it.

/** At most this many line breaks in one message. */
export const MAX_LINE_BREAKS = 1000;
const BREAK_RE = /\r\n|\r|\n/;
const INDEX_RE = /^(?:0|[1-9][0-9]{0,14})$/;

/**
 * `text` as it goes on the wire: {content, lines} (`lines` null when it has no
 * break). `\r\n`, `\r` and `\n` are each one break; breaks past the first
 * MAX_LINE_BREAKS stay plain spaces.
 */
export function encodeLines(text) {
  const parts = String(text).split(BREAK_RE);
  const positions = [];
  let at = -1;
  for (const part of parts.slice(0, -1).slice(0, MAX_LINE_BREAKS)) {
    at += Array.from(part).length + 1;
    positions.push(at);
  }
  return { content: parts.join(" "), lines: positions.length ? positions.join(".") : null };
}

/**
 * The code point indexes of `content` that `lines` marks as breaks ([] for
 * null or undefined). Throws a RangeError when `lines` is not a canonical
 * list of increasing indexes of spaces in `content`, or lists too many.
 */
export function lineBreaks(content, lines) {
  if (lines === null || lines === undefined) return [];
  const items = String(lines).split(".", MAX_LINE_BREAKS + 1);
  if (items.length > MAX_LINE_BREAKS) throw new RangeError(`more than ${MAX_LINE_BREAKS} line breaks`);
  const chars = Array.from(content);
  const positions = [];
  for (const item of items) {
    if (!INDEX_RE.test(item)) throw new RangeError(`not an index: ${JSON.stringify(item)}`);
    const at = Number(item);
    if (positions.length && at <= positions.at(-1)) throw new RangeError(`not increasing: ${at}`);
    if (at >= chars.length || chars[at] !== " ") throw new RangeError(`no space at ${at}`);
    positions.push(at);
  }
  return positions;
}

/** The text of a message: `content` with the spaces `lines` lists made `\n`. Throws a RangeError on a bad `lines`. */
export function decodeLines(content, lines) {
  const positions = lineBreaks(content, lines);
  if (positions.length === 0) return content;
  const chars = Array.from(content);
  for (const at of positions) chars[at] = "\n";
  return chars.join("");
}

/** True when `lines` is absent or a good `lines` parameter for `content`. */
export function checkLines(content, lines) {
  try {
    lineBreaks(content, lines);
    return true;
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}
