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

/** The page's own background color, for readable user colors. */
export function pageBackground() {
  const color = getComputedStyle(document.body).getPropertyValue("--bg").trim();
  return safeColor(color, "#ffffff");
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

/** The sender's name as a button (picks them as the recipient), in their color. */
function senderButton(name, color, background) {
  const button = el("button", "sender");
  button.type = "button";
  button.dataset.nick = name;
  button.dataset.color = color;
  button.title = `Write to ${name}`;
  const swatch = el("span", "swatch");
  swatch.setAttribute("aria-hidden", "true");
  swatch.style.backgroundColor = color;
  button.append(swatch, el("span", "name", name));
  button.style.color = readableColor(color, background);
  return button;
}

/**
 * One chat message: {message, own, toMe, mention} from the client's `chat`
 * event; `me` is the current nickname.
 */
export function messageItem({ message, own, toMe, mention }, background) {
  const isPublic = message.rec === EVERYONE;
  const item = el("li", `msg ${isPublic ? "msg-public" : "msg-private"}`);
  if (message.id !== null) item.dataset.id = String(message.id);
  if (own) item.classList.add("msg-own");
  if (toMe) item.classList.add("msg-to-me");
  if (mention) item.classList.add("msg-mention");
  const head = el("div", "msg-head");
  head.append(senderButton(message.sender, safeColor(message.color), background)); // null: not a color
  const to = isPublic ? "to everyone" : toMe ? "to you" : `to ${message.rec}`;
  head.append(el("span", "msg-to", to));
  if (!isPublic) head.append(el("span", "badge badge-private", "private"));
  head.append(timeElement(message.ts, message.time));
  item.append(head, messageText(message.text));
  return item;
}

/** A system line: {kind: info|error|warn|client, text, ts, time}. */
export function noticeItem({ kind, text, ts, time }) {
  const item = el("li", `line line-${kind}`);
  const stamp = ts !== null || time ? timeElement(ts, time) : timeElement(Date.now(), "");
  item.append(stamp, el("span", "line-text", text));
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
    const kick = el("button", "kick", "Kick");
    kick.type = "button";
    kick.dataset.nick = name;
    kick.setAttribute("aria-label", `Kick ${name}`);
    item.append(kick);
  }
  return item;
}

/** Fill the recipient <select>: everyone, then each online user but me; keep the choice if still there. */
export function fillRecipients(select, online, me) {
  const chosen = select.value;
  const options = [new Option("Everyone", EVERYONE)];
  for (const name of online) {
    if (!sameNick(name, me)) options.push(new Option(name, name));
  }
  select.replaceChildren(...options);
  select.value = options.some((o) => o.value === chosen) ? chosen : EVERYONE;
}
