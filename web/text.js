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
