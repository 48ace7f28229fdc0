// Moderation, editing and search as the page uses them, with no DOM and no
// I/O: the frames it sends for them (PROTOCOL.md, "Moderation", "Editing and
// deleting", "Reports", "Admin view", "Search"), the words of a restriction
// (until when, why) for people, and the search results being shown.
//
// - A duration is whole seconds; 0 (or none) is "for good".
// - `until=MS` (epoch ms, 0 = for good) is how long a ban or mute lasts; the
//   page shows it in local time, never the server's UTC words.
// - The reason of a ban or mute is what follows "{until}: " in its text
//   ("until 2026-11-25 10:00 UTC" or "for good"); none when that part is absent.
// - Search results (CHATR found=1, then CONFIRM reason=SEARCH) are kept apart
//   from the conversations; an edit or delete reaches them as well.

import { frame } from "./codec.js";
import { searchFrame } from "./protocol.js";

/** The durations offered for bans and mutes: [seconds, words]; 0 is for good. */
export const DURATIONS = [
  [600, "10 minutes"],
  [3600, "1 hour"],
  [86400, "1 day"],
  [604800, "1 week"],
  [0, "For good"],
];
/** "Reasons: at most 300 characters". */
export const MAX_REASON = 300;
/** "A search is at most 200 characters." */
export const MAX_SEARCH = 200;
export const SEARCH_PAGE = 20;
/** Messages asked on each side of a search result when jumping to it. */
export const JUMP_PAGE = 25;

const durationParam = (seconds) => (seconds > 0 ? [["duration", String(seconds)]] : []);

// ---- frames the page sends ----

export const deleteMessage = (id) => frame("DELETE", [["id", String(id)]]);
export const reportMessage = (id, reason) => frame("REPORT", [["id", String(id)]], reason);

/** BAN of a user (`addresses`: also the addresses they are online from), server-wide. */
export function banUser(user, { seconds = 0, addresses = false, reason = "" } = {}) {
  const params = [["user", user], ...durationParam(seconds)];
  if (addresses) params.push(["addresses", "1"]);
  return frame("BAN", params, reason);
}
export const banAddress = (address, { seconds = 0, reason = "" } = {}) =>
  frame("BAN", [["address", address], ...durationParam(seconds)], reason);
export const banFromRoom = (room, user, { seconds = 0, reason = "" } = {}) =>
  frame("BAN", [["room", room], ["user", user], ...durationParam(seconds)], reason);

/** KICK, with `ban` a ban made first (as BAN user=). */
export function kickUser(user, { ban = false, seconds = 0, addresses = false, reason = "" } = {}) {
  const params = [["user", user]];
  if (ban) {
    params.push(["ban", "1"], ...durationParam(seconds));
    if (addresses) params.push(["addresses", "1"]);
  }
  return frame("KICK", params, reason);
}
/** MUTE in `room` (`#room`, or `-ALL` for the lobby). */
export const mute = (room, user, { seconds = 0, reason = "" } = {}) =>
  frame("MUTE", [["room", room], ["user", user], ...durationParam(seconds)], reason);
export const unmute = (room, user) => frame("UNMUTE", [["room", room], ["user", user]]);
export const unban = (id) => frame("UNBAN", [["ban", String(id)]]);
export const listBans = (room = null) => frame("BANS", room ? [["room", room]] : []);
export const listReports = () => frame("REPORTS");
export const resolveReport = (id) => frame("RESOLVE", [["report", String(id)]]);
export const listAccounts = () => frame("ACCOUNTS");
export const auditLog = (before = null) => frame("AUDIT", before === null ? [] : [["before", String(before)]]);

/** HISTORY of `rec` after message `after` (oldest first): the way forward from a jump. */
export const historyAfter = (rec, after, limit) =>
  frame("HISTORY", [["rec", rec], ["after", String(after)], ["limit", String(limit)]]);

// ---- the words of a ban or a mute ----

const UNTIL_RE = /(?:until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC|for good)/;
const MUTED_RE = /^Error: You are muted(?: in (#\S+))? /;

/** The reason a ban or mute text gives after "{until}: ", or "" when none. */
export function restrictionReason(text) {
  const found = UNTIL_RE.exec(text);
  if (!found) return "";
  const rest = text.slice(found.index + found[0].length);
  return rest.startsWith(": ") ? rest.slice(2) : "";
}

/** Epoch ms `until` in the browser's local time ("for good" when 0). */
export function localUntil(until, locale = undefined) {
  if (!until) return "for good";
  const when = new Date(until).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
  return `until ${when}`;
}

/** An ERR or CONFIRM saying we are muted, as {rec: "-ALL" | "#room", until, reason}, else null. */
export function readMuted(text, until) {
  const found = MUTED_RE.exec(text);
  if (!found) return null;
  return { rec: found[1] ?? "-ALL", until: until ?? 0, reason: restrictionReason(text) };
}

/**
 * An INFO about a mute of `nickname` (us) as {rec, muted, until, reason},
 * else null: "NICK was muted in #R by OP {until}: R" (lobby: "NICK was
 * muted by ADMIN ..."), "NICK was unmuted ...".
 */
export function readMuteInfo(text, nickname, until) {
  for (const [word, muted] of [["muted", true], ["unmuted", false]]) {
    const head = `${nickname} was ${word} `;
    if (!text.startsWith(head)) continue;
    const room = /^in (#\S+) by /.exec(text.slice(head.length));
    return { rec: room ? room[1] : "-ALL", muted, until: until ?? 0, reason: muted ? restrictionReason(text) : "" };
  }
  return null;
}

/** A restriction (mute) still in force at `now`. */
export const inForce = (restriction, now = Date.now()) =>
  Boolean(restriction) && (restriction.until === 0 || restriction.until > now);

// ---- search results ----

/**
 * One search and its results, newest first: `start` a new one, `next` for
 * the page after the oldest shown; CHATR found=1 come in with `add`, the
 * CONFIRM with `answered`. state: idle | loading | done | error.
 */
export class SearchResults {
  constructor() {
    this.clear();
  }

  clear() {
    this.query = "";
    this.rec = null;
    this.results = []; // messages as readChat reads them
    this.more = false;
    this.state = "idle";
    this.error = "";
  }

  /** A new search of `query` (in `rec` only, when given): the frame to send. */
  start(query, rec = null, limit = SEARCH_PAGE) {
    this.clear();
    this.query = query;
    this.rec = rec;
    this.state = "loading";
    return this.frame(null, limit);
  }

  /** The next page (older results): its frame, or null when none is due. */
  next(limit = SEARCH_PAGE) {
    if (this.state !== "done" || !this.more) return null;
    const oldest = this.results.at(-1)?.id ?? null;
    if (oldest === null) return null;
    this.state = "loading";
    return this.frame(oldest, limit);
  }

  frame(before, limit) {
    return searchFrame(this.query, { rec: this.rec, before, limit });
  }

  /** A result (CHATR found=1); false when no search waits for it or it is shown already. */
  add(message) {
    if (this.state !== "loading") return false;
    if (message.id !== null && this.results.some((r) => r.id === message.id)) return false;
    this.results.push(message);
    return true;
  }

  /** The CONFIRM of SEARCH: {ok, text, more}. */
  answered({ ok, text, more }) {
    this.state = ok ? "done" : "error";
    this.error = ok ? "" : text;
    this.more = ok && more;
  }

  /** Message `id` edited: its new text; true when shown here. */
  edit(id, text, edited) {
    const at = this.results.findIndex((r) => r.id === id);
    if (at < 0) return false;
    this.results[at] = { ...this.results[at], text, edited };
    return true;
  }

  /** Message `id` deleted: gone from the results; true when it was shown. */
  remove(id) {
    const before = this.results.length;
    this.results = this.results.filter((r) => r.id !== id);
    return this.results.length !== before;
  }
}
