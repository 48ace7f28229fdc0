// DOM pieces of the page. Every piece of text from the network is written
// with textContent or a text node, never parsed as HTML; colors are
// validated before they reach the CSSOM; links are built element by element
// after new URL() confirmed http or https.

import { EVERYONE, safeColor, sameNick } from "./protocol.js";
import { displayTime, linkSegments, readableColor } from "./text.js";

/** A new element with a class and optional text. */
export function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** The value of the page's CSS color variable `name` (e.g. `--bg`), as a color. */
export function themeColor(name, fallback = "#ffffff") {
  const color = getComputedStyle(document.body).getPropertyValue(name).trim();
  return safeColor(color, fallback);
}

/** The page's own background color, for readable user colors. */
export function pageBackground() {
  return themeColor("--bg");
}

function timeElement(ts, time) {
  const when = displayTime(ts, time);
  const node = el("time", "when", when.label);
  if (when.iso) node.dateTime = when.iso;
  if (when.title) node.title = when.title;
  return node;
}

/** Message text with http/https links as <a target=_blank rel="noopener noreferrer">. */
export function messageText(text) {
  const body = el("p", "msg-text");
  for (const segment of linkSegments(text)) {
    if (!segment.href) {
      body.append(document.createTextNode(segment.text));
      continue;
    }
    const link = el("a", "", segment.text);
    link.href = segment.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    body.append(link);
  }
  return body;
}

/**
 * Paint a sender's name in their color, made readable (4.5:1) on the
 * background it sits on: the bubble's (own, private), not the page's.
 * Call again when the theme changes.
 */
export function paintSender(button) {
  button.style.color = readableColor(button.dataset.color, themeColor(button.dataset.on));
}

/** The sender's name as a button (opens the private conversation with them), in their color. */
function senderButton(name, color, on) {
  const button = el("button", "sender");
  button.type = "button";
  button.dataset.nick = name;
  button.dataset.color = color;
  button.dataset.on = on;
  button.title = `Write to ${name}`;
  const swatch = el("span", "swatch");
  swatch.setAttribute("aria-hidden", "true");
  swatch.style.backgroundColor = color;
  button.append(swatch, el("span", "name", name));
  paintSender(button);
  return button;
}

/** Whether `rec` is a public conversation (the lobby or a `#room`), not a private one. */
export function isPublicRec(rec) {
  return rec === EVERYONE || rec.startsWith("#");
}

/**
 * One chat message: {message, own, toMe, mention} from the client's `chat`
 * event. Lobby and room lines say no recipient; private ones say "to you" or
 * "to NICK" and carry a "private" badge.
 */
export function messageItem({ message, own, toMe, mention }) {
  const isPublic = isPublicRec(message.rec);
  const item = el("li", `msg ${isPublic ? "msg-public" : "msg-private"}`);
  if (message.id !== null) item.dataset.id = String(message.id);
  item.dataset.sender = message.sender;
  item.dataset.rec = message.rec;
  if (message.ts !== null) item.dataset.ts = String(message.ts);
  if (own) item.classList.add("msg-own");
  if (toMe) item.classList.add("msg-to-me");
  if (mention) item.classList.add("msg-mention");
  const on = isPublic ? (own ? "--own-bg" : "--bg") : "--private-bg";
  const head = el("div", "msg-head");
  head.append(senderButton(message.sender, safeColor(message.color), on)); // null: not a color
  if (!isPublic) {
    head.append(el("span", "msg-to", toMe ? "to you" : `to ${message.rec}`));
    head.append(el("span", "badge badge-private", "private"));
  }
  head.append(timeElement(message.ts, message.time));
  item.append(head, messageText(message.text));
  if (message.edited) item.append(editedMark(message.edited));
  return item;
}

/** "(edited)", the edit's local time in its tooltip (CHATR `edited=`, EDITED). */
export function editedMark(edited) {
  const mark = el("span", "edited", "(edited)");
  const when = new Date(edited);
  mark.title = `Edited ${when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}`;
  return mark;
}

/** Text with the ranges `[start, end)` (code points) marked, for search results. */
export function highlighted(text, ranges, className = "msg-text") {
  const body = el("p", className);
  const points = [...text];
  let at = 0;
  for (const [start, end] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (start < at) continue;
    if (start > at) body.append(document.createTextNode(points.slice(at, start).join("")));
    body.append(el("mark", "", points.slice(start, end).join("")));
    at = end;
  }
  if (at < points.length) body.append(document.createTextNode(points.slice(at).join("")));
  return body;
}

/** Messages closer together than this, from one sender to one conversation, form a group. */
export const GROUP_MS = 5 * 60 * 1000;

/** Whether log item `item` continues the group of `previous` (the item just above it). */
export function continuesGroup(previous, item) {
  if (!previous || !item || !previous.classList.contains("msg") || !item.classList.contains("msg")) return false;
  const a = previous.dataset;
  const b = item.dataset;
  if (a.ts === undefined || b.ts === undefined) return false;
  return sameNick(a.sender, b.sender) && sameNick(a.rec, b.rec) && Math.abs(Number(b.ts) - Number(a.ts)) <= GROUP_MS;
}

/**
 * Mark `item` (just placed in the log) and the item after it as starting or
 * continuing a group: a continuation shows no name and time (they stay for
 * screen readers, and its name button leaves the tab order).
 */
export function regroup(item) {
  for (const node of [item, item?.nextElementSibling]) {
    if (!node || !node.classList.contains("msg")) continue;
    const continues = continuesGroup(node.previousElementSibling, node);
    node.classList.toggle("msg-cont", continues);
    const sender = node.querySelector(".sender");
    if (sender) sender.tabIndex = continues ? -1 : 0;
  }
}

/** Mark every message of `list` as starting or continuing a group (after a whole render). */
export function regroupAll(list) {
  for (const node of list.querySelectorAll(":scope > .msg")) regroup(node);
}

/**
 * A rename or color change from its INFO (`OLD's name changed to NEW color
 * changed to C `, each part only if it changed; `sender` is NEW) as
 * {old, nick, renamed, color}, or null when `text` is not one.
 */
export function readChange(text, sender) {
  let rest = text;
  let color = null;
  const colored = /color changed to (#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?) $/.exec(rest);
  if (colored && rest[colored.index - 1] === " ") {
    color = colored[1];
    rest = rest.slice(0, colored.index);
  }
  const tail = `name changed to ${sender} `;
  const renamed = Boolean(sender) && rest.endsWith(tail);
  if (renamed) rest = rest.slice(0, -tail.length);
  if ((!renamed && color === null) || !rest.endsWith("'s ") || rest.length <= 3) return null;
  const old = rest.slice(0, -3);
  if (!renamed && sender && !sameNick(old, sender)) return null; // a color change keeps the name
  return { old, nick: renamed ? sender : old, renamed, color };
}

/** "alice is now bob", "alice changed color" (with a swatch of it), or both, as a log line's text. */
function changeText({ old, nick, renamed, color }) {
  const text = el("span", "line-text");
  const words = renamed ? `${old} is now ${nick}` : `${nick} changed color`;
  text.append(document.createTextNode(renamed && color ? `${words} and changed color` : words));
  if (color) {
    const swatch = el("span", "swatch swatch-change");
    swatch.setAttribute("aria-hidden", "true");
    swatch.title = color;
    swatch.style.backgroundColor = safeColor(color);
    text.append(" ", swatch);
  }
  return text;
}

/** A system line: {kind: info|error|warn|client, text, sender, ts, time}. */
export function noticeItem({ kind, text, sender = "", ts, time }) {
  const item = el("li", `line line-${kind}`);
  const stamp = ts !== null || time ? timeElement(ts, time) : timeElement(Date.now(), "");
  const change = kind === "info" ? readChange(text, sender) : null;
  if (change) item.classList.add("line-change");
  item.append(stamp, change ? changeText(change) : el("span", "line-text", text));
  return item;
}

/** One online user: name button, badges, and a kick button for admins. */
export function userItem(name, { me, admin, canKick }) {
  const item = el("li", "user");
  item.dataset.nick = name;
  const pick = el("button", "user-name", name);
  pick.type = "button";
  pick.dataset.nick = name;
  pick.title = me ? "You" : `Write to ${name}`;
  item.append(pick);
  if (me) {
    item.classList.add("user-me");
    item.append(el("span", "badge badge-me", "you"));
  }
  if (admin) {
    item.classList.add("user-admin");
    item.append(el("span", "badge badge-admin", "admin"));
  }
  if (canKick && !me && !admin) {
    // Kick, kick and ban, ban, mute: the moderation dialog, Kick chosen.
    const kick = el("button", "kick", "Kick/ban");
    kick.type = "button";
    kick.dataset.nick = name;
    kick.setAttribute("aria-label", `Kick/ban ${name}`);
    kick.setAttribute("aria-haspopup", "dialog");
    item.append(kick);
  }
  return item;
}
