// Parley's frames as the page uses them: the frames it sends, and plain
// values read from the frames it receives. No DOM, no I/O.

import { formatFrame, frame } from "./codec.js";

export const EVERYONE = "-ALL";
/** "never over 8192 UTF-8 bytes": one WebSocket message is one frame. */
export const MAX_FRAME_BYTES = 8192;
export const DEFAULT_COLOR = "#888888";
const COLOR_RE = /^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
const encoder = new TextEncoder();

/** `color` when it is `#RGB` or `#RRGGBB`, else `fallback`. */
export function safeColor(color, fallback = DEFAULT_COLOR) {
  return typeof color === "string" && COLOR_RE.test(color) ? color : fallback;
}

/** Bytes of `text` in UTF-8. */
export function utf8Length(text) {
  return encoder.encode(text).length;
}

/** Nicknames are one when equal after NFKC and case folding (as the server compares them). */
export function nickKey(nickname) {
  return String(nickname).normalize("NFKC").toLowerCase();
}

export function sameNick(a, b) {
  return typeof a === "string" && typeof b === "string" && nickKey(a) === nickKey(b);
}

export const con = ({ nickname, password, color }) =>
  frame("CON", [["nickname", nickname], ["password", password ?? ""], ["color", color]]);
export const chat = (rec, text) => frame("CHAT", [["rec", rec]], text);
export const ref = () => frame("REF");
export const discon = () => frame("DISCON");
export const kick = (user, reason) => frame("KICK", [["user", user]], reason);

/** UPDATE with only the non-empty changes (an empty value means "no change"). */
export function update({ nickname = "", color = "", password = "" }) {
  const params = [["nickname", nickname], ["color", color], ["password", password]];
  return frame("UPDATE", params.filter(([, value]) => value !== ""));
}

/** Wire bytes of `CHAT,rec=REC,text`: what the 8192-byte limit applies to. */
export function chatBytes(rec, text) {
  return utf8Length(formatFrame(chat(rec, text)));
}

function number(text) {
  const value = Number(text);
  return text !== undefined && text !== "" && Number.isFinite(value) ? value : null;
}

/**
 * A CHATR frame as {id, sender, rec, color, ts, time, text}.
 * `id` and `ts` are null when absent or not numbers; `color` is validated.
 */
export function readChat(f) {
  const p = f.params;
  return {
    id: number(p.get("id")),
    sender: p.get("sender") ?? "",
    rec: p.get("rec") || EVERYONE,
    color: safeColor(p.get("color")),
    ts: number(p.get("ts")),
    time: p.get("time") ?? "",
    text: f.content,
  };
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

/** An INFO, ERR or WARN frame as {text, sender, ts, time}. */
export function readNotice(f) {
  const p = f.params;
  return { text: f.content, sender: p.get("sender") ?? "", ts: number(p.get("ts")), time: p.get("time") ?? "" };
}

export function isKick(warnText) {
  return warnText.startsWith("You have been kicked");
}

export function isOwnJoin(info, nickname) {
  return sameNick(info.sender, nickname) && info.text === `${info.sender} has joined the chat!`;
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

/** True when `text` mentions `nickname` as a word of its own. */
export function mentions(text, nickname) {
  if (!nickname) return false;
  const haystack = nickKey(text);
  const needle = nickKey(nickname);
  const isWord = (ch) => ch !== undefined && /[\p{L}\p{N}_]/u.test(ch);
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) {
    if (!isWord(haystack[at - 1]) && !isWord(haystack[at + needle.length])) return true;
  }
  return false;
}
