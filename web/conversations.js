// The page's conversations with no DOM and no I/O: the lobby, rooms and
// private conversations, each with its log (messages by id, lines by
// time), unread and mention counts, read marker, history paging and draft.
//
// Rules (PROTOCOL.md, "Rooms and conversations"):
// - CHATR `rec=-ALL` is the lobby's, `rec=#NAME` a room's; a private message
//   belongs to the conversation with the other party (the recipient when we
//   sent it, else the sender);
// - CONV is the server's word on a conversation's counts; between two CONV
//   frames the page counts live messages itself: id above the read marker,
//   not our own, a mention when it names us;
// - the log holds each message id once, in id order; a line (INFO, an
//   error) sits after every item no later than its time, so our own join
//   line never rises above older history loaded after it.

import { EVERYONE as LOBBY, conversationKey, isRoom, nickKey } from "./protocol.js";

/** The key conversations are compared by: `-ALL`, `#` and the room's key, or the nickname's. */
export function convKey(rec) {
  return rec ? conversationKey(rec) : LOBBY;
}

/** "lobby", "room" or "private". */
export function kindOf(rec) {
  if (rec === LOBBY) return "lobby";
  return isRoom(rec) ? "room" : "private";
}

export class Conversation {
  constructor(rec) {
    this.rec = rec;
    this.key = convKey(rec);
    this.kind = kindOf(rec);
    this.topic = "";
    this.last = 0; // the newest message id known
    this.read = 0;
    this.unread = 0;
    this.mentions = 0;
    this.private = false;
    this.op = false;
    this.memberCount = null;
    this.members = null; // [{nick, op}] once MEMBERS came
    this.memberParts = null; // the parts of a MEMBERS split with more=1, until the last
    this.items = []; // {type: "msg", id, ts, own, event} | {type: "line", ts, notice}
    this.ids = new Set();
    this.history = "none"; // "none" | "loading" | "loaded"
    this.more = true; // older messages may exist on the server
    this.pages = 0; // pages of history answered
    this.asks = []; // the HISTORY asked and not answered yet, in order: {dir: "older" | "newer"}
    this.gapAfter = null; // after a jump: the newest id shown, with newer messages not loaded yet
    this.focusId = null; // after a jump: the message to show and highlight once its pages are in
    this.lastActive = 0; // for ordering private conversations
  }

  get title() {
    return this.kind === "lobby" ? "Lobby" : this.rec;
  }

  /** The oldest message id in the log, or null. */
  oldestId() {
    const first = this.items.find((item) => item.type === "msg" && item.id !== null);
    return first ? first.id : null;
  }

  /** The newest message id in the log, or 0. */
  newestId() {
    for (let i = this.items.length - 1; i >= 0; i--) {
      if (this.items[i].type === "msg" && this.items[i].id !== null) return this.items[i].id;
    }
    return 0;
  }

  /** Put a message in the log; its index, or -1 when its id is shown already. */
  addMessage(event) {
    const { id, ts } = event.message;
    if (id !== null && this.ids.has(id)) return -1;
    if (id !== null) {
      this.ids.add(id);
      this.last = Math.max(this.last, id);
    }
    if (ts !== null) this.lastActive = Math.max(this.lastActive, ts);
    const item = { type: "msg", id, ts, own: event.own, event };
    return this.insert(item, id === null ? this.items.length : this.messageSlot(id, ts));
  }

  /** Put a line (INFO, error, warning) in the log; its index. */
  addLine(notice) {
    const item = { type: "line", id: null, ts: notice.ts, notice };
    let at = this.items.length;
    if (notice.ts !== null) {
      while (at > 0 && this.items[at - 1].ts !== null && this.items[at - 1].ts > notice.ts) at -= 1;
    }
    return this.insert(item, at);
  }

  insert(item, at) {
    this.items.splice(at, 0, item);
    return at;
  }

  /** Where message `id` goes: after every smaller id, and after the lines no later than it. */
  messageSlot(id, ts) {
    let at = this.items.length;
    while (at > 0) {
      const before = this.items[at - 1];
      const later = before.type === "msg" ? before.id !== null && before.id > id : ts !== null && before.ts !== null && before.ts > ts;
      if (!later) break;
      at -= 1;
    }
    return at;
  }

  /** Message `id` edited: its new text and edit time; its index, or -1 when not in the log. */
  editMessage(id, text, edited) {
    const at = this.items.findIndex((item) => item.type === "msg" && item.id === id);
    if (at < 0) return -1;
    const event = this.items[at].event;
    event.message = { ...event.message, text, edited, action: text.startsWith("/me ") };
    return at;
  }

  /** Message `id` deleted: out of the log; true when it was there. */
  removeMessage(id) {
    const at = this.items.findIndex((item) => item.type === "msg" && item.id === id);
    if (at < 0) return false;
    this.items.splice(at, 1);
    return true;
  }

  /** Forget the log (to show another part of the history): the next page asked is the first. */
  resetLog() {
    this.items = [];
    this.ids.clear();
    this.history = "none";
    this.more = true;
    this.pages = 0;
    this.gapAfter = null;
    this.focusId = null;
    for (const ask of this.asks) ask.stale = true; // their answers change nothing
  }

  /** Count a live message the page has not seen before (not our own, above the read marker). */
  countLive(event) {
    const { id } = event.message;
    if (event.own || id === null || id <= this.read) return;
    this.unread += 1;
    if (event.mention) this.mentions += 1;
  }

  /** The CONV frame's counts; live messages newer than its `last` still count. */
  applyConv(c) {
    this.topic = c.topic;
    this.read = Math.max(this.read, c.read);
    this.private = c.private;
    this.op = c.op;
    if (c.members !== null) this.memberCount = c.members;
    let { unread, mentions } = c;
    for (const item of this.items) {
      if (item.type === "msg" && item.id !== null && item.id > c.last && item.id > this.read && !item.own) {
        unread += 1;
        if (item.event.mention) mentions += 1;
      }
    }
    this.unread = unread;
    this.mentions = mentions;
    this.last = Math.max(this.last, c.last);
  }

  /** Everything shown is read: the id to send READ for, or null when nothing is new. */
  markRead() {
    const newest = Math.max(this.newestId(), 0);
    if (newest <= this.read) {
      this.unread = 0;
      this.mentions = 0;
      return null;
    }
    this.read = newest;
    this.unread = 0;
    this.mentions = 0;
    return newest;
  }

  /** The id of the message the "New messages" divider goes above, for a read marker `after`. */
  firstUnreadId(after) {
    const first = this.items.find((item) => item.type === "msg" && item.id !== null && item.id > after && !item.own);
    return first ? first.id : null;
  }

  /** A nickname renamed: in the member list. */
  renamed(old, now) {
    const key = nickKey(old);
    for (const member of this.members ?? []) if (nickKey(member.nick) === key) member.nick = now;
  }
}

/** Every conversation of the session, and which one is open. */
export class Conversations {
  constructor() {
    this.clear();
  }

  clear() {
    this.byKey = new Map([[LOBBY, new Conversation(LOBBY)]]);
    this.renames = new Map(); // old key -> new key: answers asked under the old name still find theirs
    this.openKey = LOBBY;
  }

  get(rec) {
    const key = convKey(rec);
    return this.byKey.get(key) ?? this.byKey.get(this.renames.get(key)) ?? null;
  }

  /** The conversation `rec`, made when new. */
  ensure(rec) {
    const key = convKey(rec);
    let conv = this.byKey.get(key);
    if (!conv) {
      conv = new Conversation(rec);
      this.byKey.set(key, conv);
    }
    return conv;
  }

  drop(rec) {
    const key = convKey(rec);
    if (key === LOBBY) return;
    this.byKey.delete(key);
    if (this.openKey === key) this.openKey = LOBBY;
  }

  get open() {
    return this.byKey.get(this.openKey) ?? this.ensure(LOBBY);
  }

  setOpen(rec) {
    this.openKey = this.ensure(rec).key;
    return this.open;
  }

  /** The sidebar's order: the lobby, rooms by name, private conversations most recent first. */
  list() {
    const all = [...this.byKey.values()];
    const rooms = all.filter((c) => c.kind === "room").sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const privates = all.filter((c) => c.kind === "private").sort((a, b) => b.lastActive - a.lastActive || b.last - a.last);
    return [this.byKey.get(LOBBY), ...rooms, ...privates];
  }

  /** A nickname renamed: its private conversation follows, and every member list. */
  renamed(old, now) {
    for (const conv of this.byKey.values()) conv.renamed(old, now);
    const conv = this.get(old);
    if (!conv || conv.kind !== "private" || this.get(now)) return;
    this.byKey.delete(conv.key);
    conv.rec = now;
    conv.key = convKey(now);
    this.byKey.set(conv.key, conv);
    this.renames.set(convKey(old), conv.key);
    if (this.openKey === convKey(old)) this.openKey = conv.key;
  }
}

/** Drafts per conversation, kept in `storage` (localStorage) so a reload keeps each in its place. */
export class Drafts {
  constructor(storage, key = "parley.drafts") {
    this.storage = storage;
    this.key = key;
    this.drafts = {};
    try {
      const saved = JSON.parse(storage?.getItem(key) ?? "{}");
      if (saved && typeof saved === "object") this.drafts = saved;
    } catch {
      this.drafts = {};
    }
  }

  get(rec) {
    const draft = this.drafts[convKey(rec)];
    return typeof draft === "string" ? draft : "";
  }

  set(rec, text) {
    if (text) this.drafts[convKey(rec)] = text;
    else delete this.drafts[convKey(rec)];
    try {
      this.storage?.setItem(this.key, JSON.stringify(this.drafts));
    } catch {
      // Storage may be full or disabled: the draft stays for this page's life.
    }
  }

  clear() {
    this.drafts = {};
    try {
      this.storage?.removeItem(this.key);
    } catch {
      // as above
    }
  }
}

const pad = (n) => String(n).padStart(2, "0");

/** The local day of epoch ms `ts` as `YYYY-MM-DD`, or "" without a time. */
export function dayOf(ts) {
  if (ts === null || ts === undefined || !Number.isFinite(ts) || ts <= 0) return "";
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A date separator's words: "Today", "Yesterday", else the date in the browser's language. */
export function dayLabel(ts, now = new Date()) {
  const day = dayOf(ts);
  if (day === dayOf(now.getTime())) return "Today";
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1, 12);
  if (day === dayOf(yesterday.getTime())) return "Yesterday";
  return new Date(ts).toLocaleDateString(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
}
