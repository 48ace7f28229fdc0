// Frames of rooms, conversations and sessions (PROTOCOL.md, "Rooms and
// conversations") as the page sends and reads them. No DOM, no I/O.
//
// - `rec` addresses a conversation: `-ALL` the lobby, `#NAME` a room, else
//   the nickname of the other party of a private conversation.
// - A line break travels as one space, its code point index listed in
//   `lines=` (`hello world` + `lines=5` is "hello\nworld").
// - Every reason of the section is answered by CONFIRM with `reason=` (and
//   `room=` or `rec=` as given): `OK` or an error text.

import { frame } from "./codec.js";
import { number } from "./protocol.js";
import { encodeLines } from "./text.js";
import * as T from "./texts.js";

export { isRoom, roomNameError } from "./names.js";
export { decodeLines, encodeLines } from "./text.js";

export const LOBBY = "-ALL";
export const HISTORY_PAGE = 50;

/** True for a `/me` action: "/me waves" is shown as "* alice waves". */
export function isAction(text) {
  return text.startsWith("/me ");
}

// ---- frames the page sends ----

/** CON with the extensions the page speaks: rooms, changes, a session token (and `token=` to resume). */
export function con({ nickname, password, color, token = "", remember = false }) {
  const params = [["nickname", nickname], ["password", password ?? ""], ["color", color], ["lists", "changes"],
    ["rooms", "1"], ["session", "1"]];
  if (remember) params.push(["remember", "1"]);
  if (token) params.push(["token", token]);
  return frame("CON", params);
}

/** CHAT to `rec` with its line breaks encoded. */
export function chatFrame(rec, text) {
  const { content, lines } = encodeLines(text);
  const params = [["rec", rec]];
  if (lines !== null) params.push(["lines", lines]);
  return frame("CHAT", params, content);
}

export const create = (room, topic, isPrivate) =>
  frame("CREATE", isPrivate ? [["room", room], ["private", "1"]] : [["room", room]], topic);
export const join = (room) => frame("JOIN", [["room", room]]);
export const part = (room) => frame("PART", [["room", room]]);
export const setTopic = (room, text) => frame("TOPIC", [["room", room]], text);
export const invite = (room, user) => frame("INVITE", [["room", room], ["user", user]]);
export const remove = (room, user, why) => frame("REMOVE", [["room", room], ["user", user]], why);
export const op = (room, user, on) => frame("OP", [["room", room], ["user", user], ["op", on ? "1" : "0"]]);
export const listRooms = () => frame("ROOMS");
export const members = (room) => frame("MEMBERS", [["room", room]]);
export const read = (rec, id) => frame("READ", [["rec", rec], ["id", String(id)]]);

/** HISTORY of `rec`: `limit` messages before id `before` (null: the newest). */
export function history(rec, before = null, limit = HISTORY_PAGE) {
  const params = [["rec", rec]];
  if (before !== null) params.push(["before", String(before)]);
  params.push(["limit", String(limit)]);
  return frame("HISTORY", params);
}

// ---- frames the page reads ----

/** A CONV frame as {rec, last, read, unread, mentions, private, op, members, gone, topic}. */
export function readConv(f) {
  const p = f.params;
  return {
    rec: p.get("rec") || LOBBY,
    last: number(p.get("last")) ?? 0,
    read: number(p.get("read")) ?? 0,
    unread: number(p.get("unread")) ?? 0,
    mentions: number(p.get("mentions")) ?? 0,
    private: p.get("private") === "1",
    op: p.get("op") === "1",
    members: number(p.get("members")),
    gone: p.get("gone") === "1",
    topic: f.content,
  };
}

/** A MEMBERS frame as {room, members: [{name, op}]}, in the order they joined. */
export function readMembers(f) {
  const p = f.params;
  const list = [];
  const n = Math.min(number(p.get("num")) ?? 0, p.size);
  for (let i = 0; i < n; i++) {
    const name = p.get(String(i));
    if (name) list.push({ name, op: p.get(`op${i}`) === "1" });
  }
  return { room: p.get("room") ?? "", members: list };
}

/** A MEMBER frame as {room, user, change: join|leave|op|deop}. */
export function readMember(f) {
  const p = f.params;
  return { room: p.get("room") ?? "", user: p.get("user") ?? "", change: p.get("change") ?? "" };
}

/** A ROOMS frame as [{room, members, topic}], as listed (most members first). */
export function readRooms(f) {
  const p = f.params;
  const rooms = [];
  const n = Math.min(number(p.get("num")) ?? 0, p.size);
  for (let i = 0; i < n; i++) {
    const room = p.get(String(i));
    if (room) rooms.push({ room, members: number(p.get(`members${i}`)) ?? 0, topic: p.get(`topic${i}`) ?? "" });
  }
  return rooms;
}

/** A SESSION frame as {token, expires} (expires: epoch ms, 0 for the grace only). */
export function readSession(f) {
  return { token: f.params.get("token") ?? "", expires: number(f.params.get("expires")) ?? 0 };
}

/** A CONFIRM of this section as {reason, room, rec, count, more, ok, text}. */
export function readAnswer(f) {
  const p = f.params;
  return {
    reason: p.get("reason") ?? "",
    room: p.get("room") ?? "",
    rec: p.get("rec") ?? "",
    count: number(p.get("count")) ?? 0,
    more: p.get("more") === "1",
    ok: f.content === "OK",
    text: f.content,
  };
}

/** The CONVER refusal of a resume token that no longer holds. */
export const SESSION_ENDED = T.SESSION_ENDED;

/** The refusal of HISTORY by a server that does not know it. */
export const UNKNOWN_HISTORY = T.UNKNOWN_REASON.replace("{reason}", "HISTORY");
