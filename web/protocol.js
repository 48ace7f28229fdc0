// Parley's frames as the page uses them: the frames it sends, and plain
// values read from the frames it receives. No DOM, no I/O.

import { formatFrame, frame } from "./codec.js";
import { isRoom, nickKey, roomKey, sameNick } from "./names.js";
import { decodeLines, encodeLines } from "./text.js";
import * as T from "./texts.js";

export { highlight, isRoom, mentions, nickKey, nicknameError, roomKey, roomNameError, sameNick, searchWords } from "./names.js";

export const EVERYONE = "-ALL";
/** "content starting with /me (slash, m, e, space) is an action". */
export const ACTION_PREFIX = "/me ";
/** "never over 8192 UTF-8 bytes": one WebSocket message is one frame. */
export const MAX_FRAME_BYTES = 8192;
export const DEFAULT_COLOR = "#888888";
const COLOR_RE = /^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
const encoder = new TextEncoder();

/** True for `#RGB` and `#RRGGBB`, the only colors the server keeps. */
export function isColor(color) {
  return typeof color === "string" && COLOR_RE.test(color);
}

/** `color` when it is `#RGB` or `#RRGGBB`, else `fallback`. */
export function safeColor(color, fallback = DEFAULT_COLOR) {
  return isColor(color) ? color : fallback;
}

/** Bytes of `text` in UTF-8. */
export function utf8Length(text) {
  return encoder.encode(text).length;
}

// lists=changes: user-list changes (USERCHANGES) rather than a whole list for each.
// rooms=1: the client knows rooms and conversations; session=1: issue a resume
// token (SESSION); token=T: log in with it instead of the password (password=
// still present); remember=1 (with session=1): a token that lasts for days.
export function con({ nickname, password, color, rooms = false, session = false, token = null, remember = false }) {
  const params = [["nickname", nickname], ["password", password ?? ""], ["color", color], ["lists", "changes"]];
  if (rooms) params.push(["rooms", "1"]);
  if (session) params.push(["session", "1"]);
  if (token) params.push(["token", token]);
  if (session && remember) params.push(["remember", "1"]);
  return frame("CON", params);
}
export const listUsers = () => frame("USER");
export const chat = (rec, text) => frame("CHAT", [["rec", rec]], text);
export const ref = () => frame("REF");
export const discon = () => frame("DISCON");
export const kick = (user, reason) => frame("KICK", [["user", user]], reason);

// The requests of rooms=1 clients; `room` is written with its # ("#general").
export const createRoom = (room, topic = "", isPrivate = false) =>
  frame("CREATE", isPrivate ? [["room", room], ["private", "1"]] : [["room", room]], topic);
export const joinRoom = (room) => frame("JOIN", [["room", room]]);
export const partRoom = (room) => frame("PART", [["room", room]]);
export const setTopic = (room, topic) => frame("TOPIC", [["room", room]], topic);
export const inviteMember = (room, user) => frame("INVITE", [["room", room], ["user", user]]);
export const removeMember = (room, user, reason = "") => frame("REMOVE", [["room", room], ["user", user]], reason);
export const setOperator = (room, user, op) => frame("OP", [["room", room], ["user", user], ["op", op ? "1" : "0"]]);
export const listRooms = () => frame("ROOMS");
export const listMembers = (room) => frame("MEMBERS", [["room", room]]);
export const markRead = (rec, id) => frame("READ", [["rec", rec], ["id", String(id)]]);

/** HISTORY of `rec`: up to `limit` messages (server default 50) with ids below `before` (null: the newest). */
export function history(rec, { before = null, limit = null } = {}) {
  const params = [["rec", rec]];
  if (before !== null) params.push(["before", String(before)]);
  if (limit !== null) params.push(["limit", String(limit)]);
  return frame("HISTORY", params);
}

/** UPDATE with only the non-empty changes (an empty value means "no change"). */
export function update({ nickname = "", color = "", password = "" }) {
  const params = [["nickname", nickname], ["color", color], ["password", password]];
  return frame("UPDATE", params.filter(([, value]) => value !== ""));
}

/** The CHAT that sends `text` to `rec`: its line breaks as spaces listed in `lines=`. */
export function chatFrame(rec, text) {
  const { content, lines } = encodeLines(text);
  return frame("CHAT", lines === null ? [["rec", rec]] : [["rec", rec], ["lines", lines]], content);
}

/** Wire bytes of the CHAT that sends `text` to `rec` (chatFrame): what the 8192-byte limit applies to. */
export function chatBytes(rec, text) {
  return utf8Length(formatFrame(chatFrame(rec, text)));
}

// ---- what a client concludes from the server's frames ----
// The same readers as parley/protocol/reading.py (the desktop client's), held
// to the same vectors (tests/vectors/client.json):
// - a login is accepted only on the content `OK`; a refusal is retried only
//   when reconnecting after a drop, and only for the temporary ones (already
//   logged in, too many connections, too many failed logins);
// - after a kick or a flood disconnect the page never reconnects by itself;
//   after any other WARN (a shutdown, a timeout) it may, as after any drop;
// - a chat message is private unless `rec` is `-ALL` (empty counts as
//   `-ALL`) or a room (`#...`); a bad color is dropped (null); `id` and `ts` are numbers only
//   when they are 1 to 15 plain digits;
// - a user list has 0-based keys, missing entries skipped, and a count never
//   trusted beyond the parameters the frame holds;
// - having asked for changes (CON lists=changes), the page keeps its list
//   with followUsers: a USER frame replaces it (parts marked more=1 gathered
//   first) and numbers it (v); USERCHANGES apply in order, each once; a gap
//   or a count (num) that differs afterwards means out of step: ask USER,,
//   and ignore changes until it comes.
// - a ban WARN is final like a kick; a ban CONVER is a refusal never
//   retried; both give until (epoch ms, 0: for good) and the reason after
//   the first ": " that follows the until text.

const NUMBER_RE = /^[0-9]{1,15}$/;

/** A regular expression matching a texts.js template whole, each `{field}` a named group (anything, or `fields[field]`). */
export function templatePattern(template, fields = {}) {
  const escapeRe = (text) => text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
  let source = "";
  let last = 0;
  for (const field of template.matchAll(/\{(\w+)(?::[^}]*)?\}/g)) {
    source += `${escapeRe(template.slice(last, field.index))}(?<${field[1]}>${fields[field[1]] ?? ".*"})`;
    last = field.index + field[0].length;
  }
  return new RegExp(`^${source}${escapeRe(template.slice(last))}$`, "s");
}

const TEMPORARY_REFUSALS = [T.ALREADY_LOGGED_IN, T.TOO_MANY_CONNECTIONS, T.SERVER_FULL, T.LOCKED_OUT, T.TOO_FAST].map(
  templatePattern,
);
const WARN_KINDS = [
  ["kicked", templatePattern(T.KICKED)],
  ["flooding", templatePattern(T.FLOOD_DISCONNECT)],
  ["shutdown", templatePattern(T.SHUTTING_DOWN)],
  ["login-timeout", templatePattern(T.LOGIN_TIMEOUT)],
  ["frame-timeout", templatePattern(T.FRAME_TIMEOUT)],
];
const FINAL_WARNINGS = new Set(["kicked", "flooding", "banned"]);
const JOINED = templatePattern(T.JOINED);
const BANNED_WARN = templatePattern(T.BANNED_WARN);
const BANNED_LOGIN = templatePattern(T.BANNED);
const UNTIL = templatePattern(T.UNTIL);
const MUTED = templatePattern(T.MUTED, { room: "#\\S*" }); // room names hold no spaces
const MUTED_LOBBY = templatePattern(T.MUTED_LOBBY);

/**
 * The reason of a matched ban or mute text ("" when it gives none), or null
 * when it is not one: "{until} is UNTIL or FOR_GOOD; ...: {reason} parts
 * are left out when the reason is empty", so the reason starts after the
 * first ": " following the until text.
 */
function untilReason(found) {
  if (!found) return null;
  const rest = found.groups.until;
  const colon = rest.indexOf(": ");
  const until = colon < 0 ? rest : rest.slice(0, colon);
  if (until !== T.FOR_GOOD && !UNTIL.test(until)) return null;
  return colon < 0 ? "" : rest.slice(colon + 2);
}

/** `text` as a number when it is 1 to 15 decimal digits, else null. */
export function number(text) {
  return typeof text === "string" && NUMBER_RE.test(text) ? Number(text) : null;
}

/** True for a login refusal that may pass on a later try. */
export function isTemporaryRefusal(text) {
  return TEMPORARY_REFUSALS.some((pattern) => pattern.test(text));
}

/**
 * A CONVER as {ok: true, role, away} or {ok: false, text, retry, banned,
 * until, reason}; `away`: private messages that arrived while the account
 * was offline (0 when absent); `reconnecting`: we were logged in before a
 * drop. `banned`: the refusal is a ban (never retried), ending at `until`
 * (epoch ms, 0: for good), for `reason` ("" when none, or not a ban).
 */
export function readLogin(f, reconnecting) {
  if (f.content === T.OK) return { ok: true, role: f.params.get("role") ?? null, away: number(f.params.get("away")) ?? 0 };
  const reason = untilReason(BANNED_LOGIN.exec(f.content));
  if (reason !== null) {
    return { ok: false, text: f.content, retry: false, banned: true, until: number(f.params.get("until")) ?? 0, reason };
  }
  const retry = Boolean(reconnecting) && isTemporaryRefusal(f.content);
  return { ok: false, text: f.content, retry, banned: false, until: 0, reason: "" };
}

/**
 * A WARN as {kind, text, reason, until, reconnect}: kind
 * kicked|flooding|banned|shutdown|login-timeout|frame-timeout|other;
 * `reason`: a kick's or ban's (null for the others); `until`: a ban's end
 * (epoch ms, 0: for good).
 */
export function readWarn(f) {
  const until = number(f.params.get("until")) ?? 0;
  const banned = untilReason(BANNED_WARN.exec(f.content));
  if (banned !== null) return { kind: "banned", text: f.content, reason: banned, until, reconnect: false };
  for (const [kind, pattern] of WARN_KINDS) {
    const found = pattern.exec(f.content);
    if (found) {
      return { kind, text: f.content, reason: found.groups?.reason ?? null, until, reconnect: !FINAL_WARNINGS.has(kind) };
    }
  }
  return { kind: "other", text: f.content, reason: null, until, reconnect: true };
}

/**
 * A CHATR as {id, sender, rec, color, ts, time, text, private, mine, toMe,
 * old, room, action, conversation, edited, found}; `nickname` (ours) decides `mine`, `toMe`
 * and `conversation`. `text` has the line breaks `lines=` lists (a bad
 * `lines`: the content as sent); `old`: a HISTORY replay (old=1); `room`: rec
 * is a room; `action`: content starts with "/me " (its words: text.slice(4));
 * `conversation`: where to file it: -ALL, the #room, or the other party of a
 * private message (rec if we sent it, else the sender); `edited`: when its
 * author last edited it (epoch ms, 0: never); `found`: a SEARCH result.
 */
export function readChat(f, nickname) {
  const p = f.params;
  const sender = p.get("sender") ?? "";
  const rec = p.get("rec") || EVERYONE;
  const color = p.get("color") ?? "";
  const room = isRoom(rec);
  const isPrivate = rec !== EVERYONE && !room;
  const mine = sameNick(sender, nickname);
  return {
    id: number(p.get("id")),
    sender,
    rec,
    color: isColor(color) ? color : null,
    ts: number(p.get("ts")),
    time: p.get("time") ?? "",
    text: textOf(f),
    private: isPrivate,
    mine,
    toMe: isPrivate && sameNick(rec, nickname),
    old: p.get("old") === "1",
    room,
    action: f.content.startsWith(ACTION_PREFIX),
    conversation: isPrivate && !mine ? sender : rec,
    edited: number(p.get("edited")) ?? 0,
    found: p.get("found") === "1",
  };
}

/** The frame's content with the spaces `lines=` lists made line breaks (a bad `lines`: as sent). */
function textOf(f) {
  try {
    return decodeLines(f.content, f.params.get("lines"));
  } catch (error) {
    if (error instanceof RangeError) return f.content;
    throw error;
  }
}

/** The form under which conversations are compared: -ALL, "#" and the roomKey, or the nickKey. */
export function conversationKey(conversation) {
  if (conversation === EVERYONE) return EVERYONE;
  return isRoom(conversation) ? `#${roomKey(conversation)}` : nickKey(conversation);
}

/** A USER frame as {online: [...], admins: [...]}: keys 0..num-1 and admin0..admin{A-1}. */
export function readUsers(f) {
  const p = f.params;
  const list = (count, prefix) => {
    const names = [];
    const n = Math.min(number(count) ?? 0, p.size);
    for (let i = 0; i < n; i++) {
      const name = p.get(`${prefix}${i}`);
      if (name) names.push(name);
    }
    return names;
  };
  return { online: list(p.get("num"), ""), admins: list(p.get("admin"), "admin") };
}

/** A user list followed through USER and USERCHANGES frames: {online, admins, serial, resync, parts}. */
export const NO_USERS = Object.freeze({ online: [], admins: [], serial: null, resync: false, parts: null });

/** The list after a USER or USERCHANGES frame (`state` is never changed). */
export function followUsers(state, f) {
  if (f.reason === "USER") {
    let part = readUsers(f);
    if (state.parts) part = { online: [...state.parts.online, ...part.online], admins: [...state.parts.admins, ...part.admins] };
    if (f.params.get("more") === "1") return { ...state, parts: part, resync: false };
    return { ...NO_USERS, online: part.online, admins: part.admins, serial: number(f.params.get("v")) };
  }
  if (f.reason !== "USERCHANGES" || state.serial === null || state.parts) return { ...state, resync: false };
  const p = f.params;
  const first = number(p.get("v"));
  if (first === null || first > state.serial) return { ...state, serial: null, resync: true };
  const online = [...state.online];
  const count = Math.min(number(p.get("changes")) ?? 0, p.size);
  for (let i = Math.max(0, state.serial - first); i < count; i++) {
    const joined = p.get(`join${i}`);
    const left = p.get(`leave${i}`);
    const [old, now] = [p.get(`rename${i}`), p.get(`to${i}`)];
    if (joined) userJoined(online, joined);
    else if (left) userLeft(online, left);
    else if (old && now) userRenamed(online, old, now);
  }
  const admins = p.has("admin") ? readUsers(f).admins : state.admins;
  if (number(p.get("num")) !== online.length) return { ...NO_USERS, online, admins, resync: true };
  return { ...NO_USERS, online, admins, serial: Math.max(state.serial, first + count) };
}

const indexOfNick = (online, nickname) => {
  const key = nickKey(nickname);
  return online.findIndex((name) => nickKey(name) === key);
};

function userJoined(online, nickname) {
  if (indexOfNick(online, nickname) < 0) online.push(nickname);
}

function userLeft(online, nickname) {
  const at = indexOfNick(online, nickname);
  if (at >= 0) online.splice(at, 1);
}

function userRenamed(online, old, now) {
  let at = indexOfNick(online, old);
  if (at < 0) {
    userJoined(online, now);
    return;
  }
  const key = nickKey(now);
  for (let i = online.length - 1; i >= 0; i--) {
    if (i !== at && nickKey(online[i]) === key) { // never listed twice
      online.splice(i, 1);
      if (i < at) at -= 1;
    }
  }
  online[at] = now;
}

/** Our nickname as the server spells it when this INFO is our own join, else null. */
export function ownJoin(f, nickname) {
  const sender = f.params.get("sender") ?? "";
  const joined = JOINED.exec(f.content);
  return joined && sender && joined.groups.nick === sender && sameNick(sender, nickname) ? sender : null;
}

/** The answer to an UPDATE as {ok, text}, or null for another CONFIRM. */
export function readUpdate(f) {
  if (f.params.get("reason") !== "UPDATE") return null;
  return { ok: f.content === T.OK, text: f.content };
}

/** An INFO, ERR or WARN frame as {text, sender, ts, time}. */
export function readNotice(f) {
  const p = f.params;
  return { text: f.content, sender: p.get("sender") ?? "", ts: number(p.get("ts")), time: p.get("time") ?? "" };
}

const CLOSE_TEXTS = new Map([
  [1000, "Chat server closed the connection"],
  [1001, "The chat gateway is going away"],
  [1003, "The gateway refused a binary message"],
  [1006, "Lost the connection to the chat gateway"],
  [1007, "The gateway refused a message with a line break"],
  [1009, "The gateway refused a message that was too long"],
  [1011, "Lost the connection to the chat server"],
  [1013, "Chat server unavailable; try again later"],
]);

/** Words for a WebSocket close: the gateway's own reason, else one for the code. */
export function closeText(code, reason) {
  if (reason) return reason;
  return CLOSE_TEXTS.get(code) ?? `Connection closed (code ${code})`;
}

// ---- rooms, conversations and sessions (CON rooms=1) ----
// The same readers as parley/protocol/reading.py, held to the same vectors.
// Numbers that are not 1 to 15 plain digits count as 0 (absent); no count
// (num) is trusted beyond the parameters the frame holds.

/**
 * A CONV as {rec, last, read, unread, mentions, topic, private, op, members,
 * gone, room}: `members` null when not given; `gone`: drop the conversation.
 */
export function readConv(f) {
  const p = f.params;
  const rec = p.get("rec") || EVERYONE;
  return {
    rec,
    last: number(p.get("last")) ?? 0,
    read: number(p.get("read")) ?? 0,
    unread: number(p.get("unread")) ?? 0,
    mentions: number(p.get("mentions")) ?? 0,
    topic: f.content,
    private: p.get("private") === "1",
    op: p.get("op") === "1",
    members: number(p.get("members")),
    gone: p.get("gone") === "1",
    room: isRoom(rec),
  };
}

/** A MEMBERS frame as {room, members: [{nick, op}, ...]} in join order (empty and repeated names skipped). */
export function readMembers(f) {
  const p = f.params;
  const total = Math.min(number(p.get("num")) ?? 0, p.size);
  const members = [];
  const seen = new Set();
  for (let i = 0; i < total; i++) {
    const nick = p.get(String(i));
    if (nick && !seen.has(nickKey(nick))) {
      seen.add(nickKey(nick));
      members.push({ nick, op: p.get(`op${i}`) === "1" });
    }
  }
  return { room: p.get("room") ?? "", members };
}

/**
 * The room's list {room, members} after a frame (`list` is never changed):
 * MEMBERS of the room replaces it; MEMBER change=join adds the user unless
 * listed, leave removes it, op/deop set its flag; USERCHANGES renames in it.
 * Frames of another room, and any other frame, leave it as it is.
 */
export function followMembers(list, f) {
  if (f.reason === "USERCHANGES") return renamedMembers(list, f);
  if ((f.reason !== "MEMBERS" && f.reason !== "MEMBER") || roomKey(f.params.get("room") ?? "") !== roomKey(list.room)) {
    return list;
  }
  if (f.reason === "MEMBERS") return readMembers(f);
  const user = f.params.get("user") ?? "";
  const change = f.params.get("change");
  const at = list.members.findIndex((member) => sameNick(member.nick, user));
  const members = [...list.members];
  if (change === "join" && at < 0 && user) members.push({ nick: user, op: false });
  else if (change === "leave" && at >= 0) members.splice(at, 1);
  else if ((change === "op" || change === "deop") && at >= 0) members[at] = { ...members[at], op: change === "op" };
  return { ...list, members };
}

function renamedMembers(list, f) {
  const p = f.params;
  const members = [...list.members];
  const count = Math.min(number(p.get("changes")) ?? 0, p.size);
  for (let i = 0; i < count; i++) {
    const [old, now] = [p.get(`rename${i}`), p.get(`to${i}`)];
    if (!old || !now) continue;
    const at = members.findIndex((member) => sameNick(member.nick, old));
    if (at >= 0) members[at] = { ...members[at], nick: now };
  }
  return { ...list, members };
}

/** A ROOMS frame as [{name, members, topic}, ...] in its order; entries that are not rooms (#) skipped. */
export function readRooms(f) {
  const p = f.params;
  const total = Math.min(number(p.get("num")) ?? 0, p.size);
  const rooms = [];
  for (let i = 0; i < total; i++) {
    const name = p.get(String(i)) ?? "";
    if (isRoom(name)) rooms.push({ name, members: number(p.get(`members${i}`)) ?? 0, topic: p.get(`topic${i}`) ?? "" });
  }
  return rooms;
}

/** A SESSION frame as {token, expires, remembered} (expires: epoch ms, 0: only within the grace), or null without a token. */
export function readSession(f) {
  const token = f.params.get("token");
  if (!token) return null;
  const expires = number(f.params.get("expires")) ?? 0;
  return { token, expires, remembered: expires > 0 };
}

/** An INFO as {rec, text, sender, ts, time, room}: rec -ALL (the lobby's) or a #room. */
export function readInfo(f) {
  const rec = f.params.get("rec") || EVERYONE;
  return { rec, ...readNotice(f), room: isRoom(rec) };
}

/**
 * A CONFIRM as {reason, ok, text, room, rec, user, count, more, id, ban,
 * report}: `ok` on the content OK exactly; room, rec, user and count null
 * when absent; `more`: a HISTORY or SEARCH answer with more messages left;
 * `id` (EDIT, DELETE, REPORT), `ban` (BAN, MUTE, UNBAN) and `report`
 * (RESOLVE): what the answer is about, null when absent or not plain digits.
 */
export function readAnswer(f) {
  const p = f.params;
  return {
    reason: p.get("reason") ?? "",
    ok: f.content === T.OK,
    text: f.content,
    room: p.get("room") ?? null,
    rec: p.get("rec") ?? null,
    user: p.get("user") ?? null,
    count: number(p.get("count")),
    more: p.get("more") === "1",
    id: number(p.get("id")),
    ban: number(p.get("ban")),
    report: number(p.get("report")),
  };
}

// ---- moderation, editing and search (CON rooms=1) ----
// The same readers as parley/protocol/reading.py, held to the same vectors.
// Ids and times that are not 1 to 15 plain digits count as 0; list entries
// without an id (an account without a name) are skipped; no count (num) is
// trusted beyond the parameters the frame holds.

/** An EDITED as {id, rec, sender, edited, text}: `text` with the line breaks lines= lists; rec -ALL when missing. */
export function readEdited(f) {
  const p = f.params;
  return {
    id: number(p.get("id")) ?? 0,
    rec: p.get("rec") || EVERYONE,
    sender: p.get("sender") ?? "",
    edited: number(p.get("edited")) ?? 0,
    text: textOf(f),
  };
}

/** A DELETED as {id, rec}: message `id` of `rec` is gone. */
export function readDeleted(f) {
  return { id: number(f.params.get("id")) ?? 0, rec: f.params.get("rec") || EVERYONE };
}

/** The entries of a list frame: for i below num, an object of each key's `KEYi` ("" when absent). */
function entries(f, keys) {
  const p = f.params;
  const total = Math.min(number(p.get("num")) ?? 0, p.size);
  const list = [];
  for (let i = 0; i < total; i++) list.push(Object.fromEntries(keys.map((key) => [key, p.get(`${key}${i}`) ?? ""])));
  return list;
}

const number0 = (text) => number(text) ?? 0;

/**
 * A BANS frame as {room, entries: [{id, kind, target, until, by, at, reason}]}:
 * room "" for the server's bans and lobby mutes; kind user|address|room|mute;
 * until 0: for good; newest first.
 */
export function readBans(f) {
  const list = entries(f, ["id", "kind", "target", "until", "by", "at", "reason"])
    .map((e) => ({ ...e, id: number0(e.id), until: number0(e.until), at: number0(e.at) }))
    .filter((e) => e.id);
  return { room: f.params.get("room") ?? "", entries: list };
}

/** A REPORTS frame as {new, entries: [{id, at, by, msg, sender, rec, reason, text}]}: `new`: one just made (new=1). */
export function readReports(f) {
  const list = entries(f, ["id", "at", "by", "msg", "sender", "rec", "reason", "text"])
    .map((e) => ({ ...e, id: number0(e.id), at: number0(e.at), msg: number0(e.msg) }))
    .filter((e) => e.id);
  return { new: f.params.get("new") === "1", entries: list };
}

/** An ACCOUNTS frame as [{name, role, created}]: role admin or member (anything else reads as member). */
export function readAccounts(f) {
  return entries(f, ["", "role", "created"])
    .filter((e) => e[""])
    .map((e) => ({ name: e[""], role: e.role === "admin" ? "admin" : "member", created: number0(e.created) }));
}

/** An AUDIT frame as {more, entries: [{id, at, actor, action, target, room, reason, detail}]}, newest first. */
export function readAudit(f) {
  const list = entries(f, ["id", "at", "actor", "action", "target", "room", "reason", "detail"])
    .map((e) => ({ ...e, id: number0(e.id), at: number0(e.at) }))
    .filter((e) => e.id);
  return { more: f.params.get("more") === "1", entries: list };
}

/**
 * What a refused CHAT or EDIT (an ERR or CONFIRM with the mute text) says of
 * our mute, as {room, until, reason} (room: the #room, or -ALL for the
 * lobby; until: epoch ms, 0: for good), else null.
 */
export function readMuted(f) {
  if (f.reason !== "ERR" && f.reason !== "CONFIRM") return null;
  const until = number(f.params.get("until")) ?? 0;
  const found = MUTED.exec(f.content);
  const reason = untilReason(found);
  if (reason !== null) return { room: found.groups.room, until, reason };
  const lobby = untilReason(MUTED_LOBBY.exec(f.content));
  return lobby === null ? null : { room: EVERYONE, until, reason: lobby };
}

/** The EDIT that makes message `id` read `text`: its line breaks as spaces listed in `lines=`. */
export function editFrame(id, text) {
  const { content, lines } = encodeLines(text);
  return frame("EDIT", lines === null ? [["id", String(id)]] : [["id", String(id)], ["lines", lines]], content);
}

/**
 * The SEARCH for `query` (line breaks sent as spaces: they separate words
 * anyway); `rec`: that conversation only (null: everywhere); `before`:
 * results with ids below it (the next page); `limit`: how many (null: the
 * server's default).
 */
export function searchFrame(query, { rec = null, before = null, limit = null } = {}) {
  const params = rec === null ? [] : [["rec", rec]];
  if (before !== null) params.push(["before", String(before)]);
  if (limit !== null) params.push(["limit", String(limit)]);
  return frame("SEARCH", params, encodeLines(query).content);
}

// ---- files (issue 15, CON rooms=1) ----
// The same readers as the files section of parley/protocol/reading.py, held
// to the same vectors (tests/vectors/files.json): a message's file is null
// when it has none or its params are malformed (an id that is not a number
// above 0, a size or dimension that is not a number, a flink that is not
// relative: a scheme, a leading "/" or a ".." segment); it is an image only
// when fw and fh are both above 0.

// "flink is file_link(...), relative to the page's base path": a relative
// reference with no scheme (RFC 3986 path-noscheme: no ":" before the first
// "/"), no leading "/" (nor "\", which browsers read as "/"), and nothing a
// URL parser would strip or reinterpret (spaces, controls, raw non-ASCII,
// "?" or "#"). A ".." segment (also spelled %2e%2e) is refused in isFileLink.
const NOSCHEME = "(?:[A-Za-z0-9\\-._~!$&'()*+,;=@]|%[0-9A-Fa-f]{2})";
const PCHAR = "(?:[A-Za-z0-9\\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})";
const LINK_RE = new RegExp(`^${NOSCHEME}+(?:/${PCHAR}*)*$`);
// An absolute http(s) URL without user info, query or fragment, controls or spaces:
// the UPLOAD's url= and CONVER's files=, which a client puts a path after.
const BASE_URL_RE = /^[Hh][Tt][Tt][Pp][Ss]?:\/\/[^\x00-\x20\x7f-\x9f/?#\\@]+(?:\/[^\x00-\x20\x7f-\x9f?#\\]*)?$/;
const CONTROLS_RE = /[\x00-\x1f\x7f-\x9f]/g; // Unicode's Cc
export const DEFAULT_FILE_TYPE = "application/octet-stream";
/** "thumbnail at flink?thumb=1". */
export const THUMB_QUERY = "?thumb=1";
const SIZE_UNITS = ["KB", "MB", "GB", "TB", "PB"];

/**
 * `size` bytes as people read them: "999 B", "1.2 KB", "12 KB", "1.5 MB",
 * "10 MB", "2.1 GB": decimal units, one decimal below 10, none above,
 * rounded half up in whole numbers (BigInt), as parley/protocol/sizes.py
 * does for the server's legacy line. Throws RangeError for a negative or
 * fractional size.
 */
export function humanSize(size) {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`not a size: ${size}`);
  const n = BigInt(size);
  if (n < 1000n) return `${n} B`;
  const rounded = (numerator, denominator) => (2n * numerator + denominator) / (2n * denominator);
  for (const [i, unit] of SIZE_UNITS.entries()) {
    const scale = 1000n ** BigInt(i + 1);
    const tenths = rounded(n * 10n, scale);
    if (tenths < 100n) return `${tenths / 10n}.${tenths % 10n} ${unit}`;
    const whole = rounded(n, scale);
    if (whole < 1000n || i === SIZE_UNITS.length - 1) return `${whole} ${unit}`;
  }
  throw new Error("unreachable: the last unit always answers");
}

/** True when `link` is a path relative to the page: no scheme, no leading "/", no ".." segment. */
export function isFileLink(link) {
  if (typeof link !== "string" || !LINK_RE.test(link)) return false;
  return link.split("/").every((segment) => segment.toLowerCase().replaceAll("%2e", ".") !== "..");
}

/** `url` when it is an absolute http(s) URL with no query, fragment or user info, else "". */
function baseUrl(url) {
  return typeof url === "string" && BASE_URL_RE.test(url) ? url : "";
}

/** An image's fw or fh: 0 when absent, null when not a number. */
const dimension = (text) => (text === undefined ? 0 : number(text));

/**
 * The file of a file message (a CHATR, history, search result or EDITED
 * with file=) as {id, name, size, type, link, width, height, isImage, thumb},
 * or null when it carries none or its file params are malformed. `link`:
 * the file's path relative to the page; `width`/`height`: an image's size
 * (both 0 when not shown inline); `thumb`: the thumbnail's path
 * (link?thumb=1) for an image, else null.
 */
export function readFile(f) {
  const p = f.params;
  const id = number(p.get("file"));
  const size = number(p.get("fsize"));
  const link = p.get("flink") ?? "";
  if (!id || size === null || !isFileLink(link)) return null;
  let width = dimension(p.get("fw"));
  let height = dimension(p.get("fh"));
  if (width === null || height === null) return null;
  if (!(width && height)) width = height = 0;
  const isImage = width > 0;
  return {
    id, name: p.get("fname") || "file", size, type: p.get("ftype") || DEFAULT_FILE_TYPE, link, width, height,
    isImage, thumb: isImage ? link + THUMB_QUERY : null,
  };
}

/**
 * A granted UPLOAD as {rec, name, size, ticket, url}: POST the bytes to
 * `url` (or, when "", to "files/upload" relative to the page) with
 * "?ticket=" and the ticket URL-encoded. A missing rec is the lobby's; a
 * size that is not a number reads 0; a url that is not an absolute http(s)
 * URL reads "". A grant without a ticket ("") is not one.
 */
export function readUpload(f) {
  const p = f.params;
  return {
    rec: p.get("rec") || EVERYONE, name: p.get("name") ?? "", size: number(p.get("size")) ?? 0,
    ticket: p.get("ticket") ?? "", url: baseUrl(p.get("url")),
  };
}

/**
 * The UPLOAD asking to send file `name` of `size` bytes to `rec`. Control
 * characters are left out of the name (a line break could not be sent; the
 * server keeps only a safe name anyway); a size of 0 is sent as it is (the
 * server answers that the file is empty). Throws RangeError for a negative
 * or fractional size.
 */
export function uploadFrame(rec, name, size) {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`not a size: ${size}`);
  return frame("UPLOAD", [["rec", rec], ["name", name.replace(CONTROLS_RE, "")], ["size", String(size)]]);
}

/** The CHAT that posts an uploaded file to `rec` with the upload's `receipt`. */
export const fileChatFrame = (rec, receipt) => frame("CHAT", [["rec", rec], ["file", receipt]]);

/** The files base URL a CONVER gives (files=), ending with "/"; "" when it gives none (or not an absolute http(s) URL). */
export function readFilesBase(f) {
  const base = baseUrl(f.params.get("files"));
  return !base || base.endsWith("/") ? base : `${base}/`;
}
