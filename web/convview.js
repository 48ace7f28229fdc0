// DOM pieces of the conversations: the sidebar's entries, room list
// entries, room members, date separators, the "New messages" divider and
// chat messages as a conversation shows them. Text from the network is
// written with textContent only (render.js's rule).

import { fileBody } from "./files.js";
import { el, messageItem } from "./render.js";

/** A count shown as a number, then its words (" unread") for screen readers only. */
function countBadge(className, count, label, words) {
  const badge = el("span", `count ${className}`, count > 999 ? "999+" : String(count));
  badge.title = label;
  const spoken = el("span", "visually-hidden", ` ${words}`);
  badge.hidden = spoken.hidden = count === 0;
  return [badge, spoken];
}

/** A sidebar entry: the conversation's name, its unread count and (apart) its mention count. */
export function convItem(conv, open) {
  const item = el("li", `conv conv-${conv.kind}`);
  const button = el("button", "conv-open");
  button.type = "button";
  button.dataset.rec = conv.rec;
  if (open) button.setAttribute("aria-current", "true");
  const name = el("span", "conv-name", conv.title);
  const parts = [name];
  if (conv.private && conv.kind === "room") parts.push(el("span", "badge badge-private", "private"));
  parts.push(
    ...countBadge("count-mentions", conv.mentions, `${conv.mentions} mentioning you`, "mentioning you"),
    ...countBadge("count-unread", conv.unread, `${conv.unread} unread`, "unread"),
  );
  // The name a screen reader reads is the visible text (WCAG 2.5.3, "label in name"), with the counts' words.
  button.append(...parts);
  item.append(button);
  return item;
}

/** A public room in the ROOMS list: name, members, topic, and Join (or "joined"). */
export function roomItem({ name: room, members, topic }, joined) {
  const item = el("li", "room");
  const head = el("div", "room-head");
  head.append(el("span", "room-name", room), el("span", "room-members", `${members} ${members === 1 ? "member" : "members"}`));
  item.append(head);
  if (topic) item.append(el("p", "room-topic", topic));
  const button = el("button", joined ? "room-joined" : "room-join", joined ? "Open" : "Join");
  button.type = "button";
  button.dataset.room = room;
  button.setAttribute("aria-label", `${joined ? "Open" : "Join"} ${room}`);
  item.append(button);
  return item;
}

/** A room member: name (opens a private conversation), online and operator marks, operators' tools. */
export function memberItem({ nick: name, op }, { me, online, manage }) {
  const item = el("li", "user member");
  item.dataset.nick = name;
  if (!online) item.classList.add("user-offline");
  const pick = el("button", "user-name", name);
  pick.type = "button";
  pick.dataset.nick = name;
  pick.title = me ? "You" : `Write to ${name}`;
  item.append(pick);
  if (me) item.append(el("span", "badge badge-me", "you"));
  if (op) item.append(el("span", "badge badge-op", "operator"));
  item.append(el("span", "presence", online ? "online" : "offline"));
  if (manage && !me) {
    const tools = el("span", "member-tools");
    const moderate = tool("member-mod", "Ban/mute", name);
    moderate.setAttribute("aria-haspopup", "dialog");
    tools.append(tool("member-op", op ? "Unmake operator" : "Make operator", name, op ? "0" : "1"),
      tool("member-remove", "Remove", name), moderate);
    item.append(tools);
  }
  return item;
}

function tool(className, text, name, value = "") {
  const button = el("button", className, text);
  button.type = "button";
  button.dataset.nick = name;
  if (value) button.dataset.op = value;
  button.setAttribute("aria-label", `${text}: ${name}`);
  return button;
}

/** A date separator between days. */
export function daySeparator(label) {
  const item = el("li", "day-separator");
  item.append(el("span", "", label));
  return item;
}

/** The top of a conversation whose whole history is shown. */
export function historyStart() {
  return el("li", "history-start", "The beginning of this conversation.");
}

/** The "New messages" divider above the first unread message. */
export function newDivider() {
  const item = el("li", "new-divider");
  item.append(el("span", "", "New messages"));
  return item;
}

/**
 * A chat message in its conversation: a room's message is not private; a
 * `/me` action reads "* alice waves"; a file message shows the file (its
 * text is the line for original clients).
 */
export function chatItem(event, background) {
  const item = messageItem(event, background);
  const { message } = event;
  if (message.file) {
    item.querySelector(".msg-text").replaceWith(fileBody(message.file));
    item.classList.add("msg-with-file");
  }
  if (message.id !== null) {
    // Edit, delete, report (and moderation of the sender): a menu, reached by keyboard too.
    const more = el("button", "msg-actions", "…");
    more.type = "button";
    more.setAttribute("aria-label", `Message actions: ${message.sender}`);
    more.setAttribute("aria-haspopup", "menu");
    more.setAttribute("aria-expanded", "false");
    item.append(more);
  }
  if (message.rec.startsWith("#")) {
    item.classList.replace("msg-private", "msg-public");
    item.querySelector(".badge-private")?.remove();
    item.querySelector(".msg-to")?.remove();
  }
  if (message.action && !message.file) {
    item.classList.add("msg-action");
    const body = item.querySelector(".msg-text");
    if (body) {
      const star = el("span", "action-star", `* ${message.sender} `);
      // The rest of the text keeps its links: drop "/me " from the first text node.
      const first = body.firstChild;
      if (first && first.nodeType === Node.TEXT_NODE) first.textContent = first.textContent.slice(4);
      body.prepend(star);
    }
  }
  return item;
}
