// The chat session over one WebSocket at a time, with no DOM: log in,
// dispatch each frame on its reason, reconnect with backoff. The page
// listens to its events (see EVENTS) and calls its methods.
//
// Rules (PROTOCOL.md, "What clients conclude from server frames"; the
// readers are in protocol.js, shared with the desktop client through
// tests/vectors/client.json):
// - one WebSocket text message is exactly one frame, both ways;
// - CON asks for rooms (rooms=1), list changes and a resume token
//   (session=1); a SESSION token logs the next page load in (token=);
// - after CONVER OK the page asks HISTORY of the open conversation (never
//   REF) and pages back with `before=` until `more=0`; the log holds each id
//   once (conversations.js);
// - READ marks a conversation read as the user sees it; the server's CONV
//   answer reaches every session of the account, so other tabs agree;
// - any drop that is not a Leave, a kick or a flood disconnect reconnects
//   with backoff, sending CON again with the remembered credentials (the
//   password only in memory);
// - a refused login is retried (with backoff) only when reconnecting, and
//   only for the temporary refusals; any other ends the session.

import { ProtocolError, formatFrame, parseFrame } from "./codec.js";
import { Conversations, convKey } from "./conversations.js";
import * as M from "./moderation.js";
import * as P from "./protocol.js";
import { Backoff } from "./state.js";
import * as T from "./texts.js";

// status: {state: "offline"|"connecting"|"online"|"reconnecting", reason, retryAt}
// login-error: {text}          logged-in: {role, first}     identity: {nickname}
// chat: {message, conv, index, live, own, toMe, mention}          users: {online, admins}
// notice: {kind: "info"|"error"|"warn"|"client", text, sender, ts, time, conv, index}
// update-result: {ok, text}    ended: {why: "left"|"kicked"|"flooding", text}
// convs: {}  (a conversation's counts, topic or the list changed)
// history: {conv, count, more}  members: {conv}  rooms: {rooms}
// answer: {reason, room, rec, ok, text} (CONFIRM of a room reason)
// session: {token, expires} (token "": the session ended, forget it)
// edited: {id, rec, sender, edited, text}  deleted: {id, rec}  (a message changed: every conversation and the search results)
// search: {search} (results came, or the answer)   muted: {rec, muted, until, reason} (we were muted or unmuted)
// bans: {room, entries}  reports: {new, entries}  accounts: {accounts}  audit: {more, entries}
// upload: {ok: true, grant} (UPLOAD granted; grant null if unreadable) or {ok: false, text} (its ERR), in the order asked
// ("ended" and "login-error" carry `banned`, `until` (epoch ms, 0: for good) and `reason`)
export const EVENTS = [
  "status", "login-error", "logged-in", "identity", "chat", "users", "notice", "update-result", "ended",
  "convs", "history", "members", "rooms", "answer", "session", "edited", "deleted", "search", "muted",
  "bans", "reports", "accounts", "audit", "upload",
];

const ROOM_REASONS = new Set([
  "CREATE", "JOIN", "PART", "TOPIC", "INVITE", "REMOVE", "OP", "ROOMS", "MEMBERS", "READ",
  "EDIT", "DELETE", "REPORT", "BAN", "UNBAN", "MUTE", "UNMUTE", "RESOLVE", "BANS", "REPORTS", "ACCOUNTS", "AUDIT",
]);
const READ_DELAY_MS = 300;
const HISTORY_PAGE = 50;
const HISTORY_RETRY_MS = 2000;
/** The refusal of HISTORY by a server that does not know it. */
const UNKNOWN_HISTORY = T.UNKNOWN_REASON.replace("{reason}", "HISTORY");
const CONNECTING = 0;
const OPEN = 1;
const LEAVE_GRACE_MS = 1500;

/** The WebSocket URL beside the page: `ws` relative to `href`, http→ws, https→wss. */
export function socketUrl(href) {
  const url = new URL("ws", href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  url.search = "";
  return url.href;
}

export class ChatClient {
  constructor({ url, WebSocketImpl = globalThis.WebSocket, timers = globalThis, backoff = new Backoff(), log = console }) {
    this.url = url;
    this.WebSocketImpl = WebSocketImpl;
    this.timers = timers;
    this.backoff = backoff;
    this.log = log;
    this.listeners = new Map(EVENTS.map((name) => [name, []]));
    this.convs = new Conversations();
    this.ws = null;
    this.retryTimer = null;
    this.credentials = null; // {nickname, password, color, token, remember}: memory only
    this.nickname = "";
    this.role = "";
    this.online = false; // logged in on the current socket
    this.wantOnline = false; // logged in once, not left or kicked: reconnect on drops
    this.loginPending = false;
    this.ending = null; // "left" | "kicked" | "flooding" while the socket closes for good
    this.endText = "";
    this.joinTs = null;
    this.awaitingJoin = false;
    this.pendingUpdates = [];
    this.lastInfo = null; // the INFO just received, if the last frame was one
    this.unsentReads = new Map(); // conversation key -> {rec, id}
    this.readTimer = null;
    this.userList = P.NO_USERS;
    this.status = { state: "offline", reason: "", retryAt: 0 };
    this.search = new M.SearchResults();
    this.endBan = null; // {until, reason} of the ban that ends the session
    this.uploadsAsked = 0; // UPLOADs sent on this socket and not answered yet
  }

  on(name, listener) {
    this.listeners.get(name).push(listener);
    return this;
  }

  emit(name, detail) {
    for (const listener of this.listeners.get(name)) listener(detail);
  }

  setStatus(state, reason = "", retryAt = 0) {
    this.status = { state, reason, retryAt };
    this.emit("status", this.status);
  }

  // ---- what the page asks for ----

  /** Log in with {nickname, password, color, token?, remember?}, opening a socket if none is open. */
  login(credentials) {
    if (this.online || this.loginPending) return; // a double click must not send CON twice
    this.cancelRetry();
    this.credentials = { ...credentials };
    this.ending = null;
    this.wantOnline = false;
    if (this.ws && this.ws.readyState === OPEN) this.sendCon();
    else if (!this.ws || this.ws.readyState !== CONNECTING) {
      this.dropSocket();
      this.open();
    }
  }

  /** Send a chat message (line breaks encoded); returns "" when sent, else why not. */
  sendChat(rec, text) {
    if (!this.online) return "Not connected.";
    if (P.chatBytes(rec, text) > P.MAX_FRAME_BYTES) return "Message too long.";
    return this.send(P.chatFrame(rec, text)) ? "" : "Message could not be sent.";
  }

  // ---- conversations ----

  /** Open conversation `rec`: its newest page of history is asked for the first time. */
  openConversation(rec) {
    const conv = this.convs.setOpen(rec);
    if (conv.history === "none") this.loadHistory(conv);
    if (conv.kind === "room" && conv.members === null && this.online) this.send(P.listMembers(conv.rec));
    this.emit("convs", {});
    return conv;
  }

  /** Ask for the page of messages before the oldest shown; false when none is due. */
  loadOlder(conv) {
    if (conv.history !== "loaded" || !conv.more) return false;
    return this.loadHistory(conv);
  }

  loadHistory(conv) {
    if (!this.online || conv.history === "loading") return false;
    const before = conv.history === "none" ? null : conv.oldestId();
    if (!this.send(P.history(conv.rec, { before, limit: HISTORY_PAGE }))) return false;
    conv.history = "loading";
    conv.asks.push({ dir: "older" });
    return true;
  }

  /** After a jump: ask the page after the newest shown; false when none is due. */
  loadNewer(conv) {
    if (!this.online || conv.gapAfter === null || conv.asks.some((a) => a.dir === "newer" && !a.stale)) return false;
    if (!this.send(M.historyAfter(conv.rec, conv.gapAfter, HISTORY_PAGE))) return false;
    conv.asks.push({ dir: "newer" });
    return true;
  }

  /**
   * Open conversation `rec` at message `id` (a search result): the log starts
   * again with the messages around it (HISTORY before=ID+1 and after=ID), and
   * pages on both ways from there. False when not online.
   */
  jumpTo(rec, id) {
    if (!this.online) return false;
    const conv = this.convs.setOpen(rec);
    conv.resetLog();
    conv.history = "loading";
    conv.gapAfter = id; // no live message in the log until the pages reach the newest
    conv.focusId = id;
    this.send(P.history(conv.rec, { before: id + 1, limit: M.JUMP_PAGE }));
    conv.asks.push({ dir: "older" });
    this.send(M.historyAfter(conv.rec, id, M.JUMP_PAGE));
    conv.asks.push({ dir: "newer" });
    if (conv.kind === "room" && conv.members === null) this.send(P.listMembers(conv.rec));
    this.emit("convs", {});
    return true;
  }

  /** Back to the newest messages of `conv` after a jump (its newest page again). */
  showLatest(conv) {
    conv.resetLog();
    this.loadHistory(conv);
    this.emit("convs", {});
  }

  /** A search of `query` in every conversation, or in `rec` only; false when not sent. */
  searchFor(query, rec = null) {
    return this.online && this.send(this.search.start(query, rec));
  }

  /** The next page of the search's results; false when none is due. */
  searchMore() {
    const f = this.search.next();
    return f !== null && this.online && this.send(f);
  }

  /**
   * Everything of `conv` is seen: its counts drop at once, and READ follows
   * (at most one a conversation every READ_DELAY_MS, so a busy room read as
   * it scrolls by costs few frames). False when nothing was new.
   */
  markRead(conv) {
    const id = conv.markRead();
    if (id === null || !this.online) return false;
    this.emit("convs", {});
    this.unsentReads.set(conv.key, { rec: conv.rec, id });
    if (this.readTimer === null) {
      this.readTimer = this.timers.setTimeout(() => this.sendReads(), READ_DELAY_MS);
    }
    return true;
  }

  /** Send the READ frames still held back (before DISCON, or as the page goes away). */
  sendReads() {
    if (this.readTimer !== null) this.timers.clearTimeout(this.readTimer);
    this.readTimer = null;
    for (const { rec, id } of this.unsentReads.values()) this.send(P.markRead(rec, id));
    this.unsentReads.clear();
  }

  /** A room reason (CREATE, JOIN, PART, TOPIC, INVITE, REMOVE, OP, ROOMS, MEMBERS): false when not sent. */
  ask(f) {
    return this.online && this.send(f);
  }

  /**
   * UPLOAD of a file of `size` bytes named `name` for `rec`; false when not
   * sent. The answer (the grant, or the ERR refusing it) comes as "upload".
   */
  askUpload(rec, name, size) {
    if (!this.online || !this.send(P.uploadFrame(rec, name, size))) return false;
    this.uploadsAsked += 1;
    return true;
  }

  /** Ask for UPDATE of the given non-empty {nickname, color, password}; false if nothing to send. */
  update(changes) {
    const f = P.update(changes);
    if (!this.online || f.params.size === 0) return false;
    if (!this.send(f)) return false;
    this.pendingUpdates.push(Object.fromEntries(f.params));
    return true;
  }

  kick(user, reason) {
    return this.online && this.send(P.kick(user, reason));
  }

  /** EDIT of message `id` (line breaks kept); false when not sent. */
  edit(id, text) {
    return this.online && this.send(P.editFrame(id, text));
  }

  /** DISCON,, and no reconnecting; closes the socket if the server does not. */
  leave() {
    this.wantOnline = false;
    this.ending = "left";
    this.endText = "You left the chat.";
    this.cancelRetry();
    if (this.ws && this.ws.readyState === OPEN) {
      this.sendReads();
      this.send(P.discon());
      const ws = this.ws;
      this.timers.setTimeout(() => ws.readyState === OPEN && ws.close(1000), LEAVE_GRACE_MS);
    } else {
      this.dropSocket();
      this.finish();
    }
  }

  /** Forget everything of the session: conversations, the list (after Leave, a kick, a new login). */
  reset() {
    this.convs.clear();
    this.userList = P.NO_USERS;
    this.emit("users", { online: [], admins: [] });
    this.emit("convs", {});
  }

  isAdmin() {
    return this.role === "admin";
  }

  // ---- the socket ----

  open() {
    const ws = new this.WebSocketImpl(this.url);
    this.ws = ws;
    this.setStatus("connecting");
    ws.onopen = () => this.ws === ws && this.credentials && this.sendCon();
    ws.onmessage = (event) => this.ws === ws && this.receive(event.data);
    ws.onclose = (event) => this.ws === ws && this.closed(event.code, event.reason);
    ws.onerror = () => {}; // a close event follows, with the reason
  }

  dropSocket() {
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= OPEN) ws.close(1000);
  }

  send(f) {
    let text;
    try {
      text = formatFrame(f);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.note("client", `Not sent: ${error.message}.`);
      return false;
    }
    if (P.utf8Length(text) > P.MAX_FRAME_BYTES) {
      this.note("client", "Not sent: longer than the 8192 bytes a message may take.");
      return false;
    }
    if (!this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(text);
    return true;
  }

  sendCon() {
    this.loginPending = true;
    this.userList = P.NO_USERS; // a new connection's list starts whole
    this.send(P.con({ ...this.credentials, rooms: true, session: true }));
  }

  closed(code, reason) {
    this.ws = null;
    const text = P.closeText(code, reason);
    const wasPending = this.loginPending;
    this.online = false;
    this.loginPending = false;
    this.pendingUpdates = [];
    this.uploadsAsked = 0;
    if (this.ending) this.finish();
    else if (this.wantOnline) this.scheduleRetry(text);
    else {
      this.setStatus("offline", text);
      if (wasPending) this.emit("login-error", { text });
    }
  }

  finish() {
    const why = this.ending;
    this.ending = null;
    if (this.credentials) this.credentials.token = ""; // Leave and a kick revoke it
    this.reset();
    this.search.clear();
    this.setStatus("offline", this.endText);
    this.emit("ended", { why, text: this.endText, ...(why === "banned" ? this.endBan : {}) });
  }

  scheduleRetry(reason) {
    this.cancelRetry();
    const delay = this.backoff.next();
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
    this.setStatus("reconnecting", reason, Date.now() + delay);
  }

  cancelRetry() {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  // ---- frames received ----

  receive(data) {
    if (typeof data !== "string") {
      this.report("a binary message");
      return;
    }
    let f;
    try {
      f = parseFrame(data);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.report(`a malformed frame (${error.code})`);
      return;
    }
    const handler = HANDLERS.get(f.reason);
    if (handler) handler.call(this, f);
    else this.report(`an unknown frame: ${f.reason}`);
    if (f.reason !== "INFO" && f.reason !== "MEMBER") this.lastInfo = null; // REMOVE: INFO, MEMBER, CONV gone=1
  }

  report(what) {
    this.log.warn(`Parley: the server sent ${what}`);
    this.note("client", `The server sent ${what}; ignored.`);
  }

  /** A line in conversation `notice.rec` (INFO), else in the open one (errors, warnings, our own notes). */
  note(kind, text, notice = {}) {
    const conv = notice.rec ? this.convs.ensure(notice.rec) : this.convs.open;
    const line = { kind, text, sender: notice.sender ?? "", ts: notice.ts ?? null, time: notice.time ?? "", conv, index: -1 };
    line.index = conv.addLine(line);
    this.emit("notice", line);
  }

  onConver(f) {
    this.loginPending = false;
    if (this.online) {
      this.note("error", f.content);
      return;
    }
    // wantOnline: logged in before and not left, so this login is a reconnect.
    const login = P.readLogin(f, this.wantOnline);
    if (!login.ok) {
      this.loginFailed(login);
      return;
    }
    const first = !this.wantOnline;
    if (first) this.convs.clear();
    else for (const conv of this.convs.byKey.values()) if (conv.history === "loading") conv.history = "none";
    this.online = true;
    this.wantOnline = true;
    this.role = login.role ?? "";
    this.nickname = this.credentials.nickname;
    this.awaitingJoin = true;
    this.backoff.reset();
    this.setStatus("online");
    this.emit("logged-in", { role: this.role, first });
    this.emit("identity", { nickname: this.nickname });
    // Messages may have come while we were away: the open conversation's newest page again.
    const open = this.convs.open;
    for (const conv of this.convs.byKey.values()) conv.asks = []; // the old socket's answers will not come
    if (open.gapAfter !== null) open.resetLog(); // a jump's pages are not the newest: start from the newest
    if (open.history !== "loading") open.history = "none";
    this.openConversation(open.rec);
  }

  loginFailed(login) {
    const { text, retry } = login;
    // Reconnecting right after a drop, the server may not have noticed the
    // old connection leave yet, or may hold back our address for a while.
    if (retry) {
      this.dropSocket();
      this.scheduleRetry(text);
      return;
    }
    const sessionEnded = text === T.SESSION_ENDED;
    const { banned, until, reason } = login;
    if (sessionEnded && this.credentials) {
      this.credentials.token = "";
      // Reconnecting (the server restarted, or the grace ran out): log in
      // again at once as before, with the password if there was one.
      if (this.wantOnline) {
        this.sendCon();
        return;
      }
    }
    this.wantOnline = false;
    if (sessionEnded) this.emit("session", { token: "", expires: 0 });
    this.setStatus("offline", text);
    this.emit("login-error", banned ? { text, banned, until, reason } : { text });
  }

  onChatr(f) {
    const message = P.readChat(f, this.nickname); // its text with its line breaks
    const file = P.readFile(f); // a file message's file (its text is then the line for original clients)
    if (file) message.file = file;
    if (message.found) {
      if (this.search.add(message)) this.emit("search", { search: this.search });
      return;
    }
    const { mine: own, toMe, old } = message;
    const live = !old && (this.joinTs === null || message.ts === null || message.ts >= this.joinTs);
    const mention = !own && P.mentions(message.text, this.nickname);
    const conv = this.convs.ensure(message.conversation);
    const event = { message, conv, index: -1, live, own, toMe, mention };
    if (old && conv.asks[0]?.stale) return; // a page asked before the log started again
    if (!old && conv.gapAfter !== null) {
      // After a jump the log shows older messages: this one comes with the pages forward.
      if (live) conv.countLive(event);
      if (live) this.emit("convs", {});
      return;
    }
    event.index = conv.addMessage(event);
    if (event.index < 0) return; // seen already
    if (live) conv.countLive(event);
    this.emit("chat", event);
    if (live) this.emit("convs", {});
  }

  onInfo(f) {
    const info = P.readInfo(f);
    this.lastInfo = info;
    // "TOPIC: the members get INFO,...;rec=#NAME;topic=TEXT,...; clients take the topic from topic".
    const room = info.room && f.params.has("topic") ? this.convs.get(info.rec) : null;
    if (room) {
      room.topic = f.params.get("topic");
      this.emit("convs", {});
    }
    const spelling = this.awaitingJoin ? P.ownJoin(f, this.nickname) : null;
    if (spelling !== null) {
      this.awaitingJoin = false;
      this.joinTs = info.ts;
      if (spelling !== this.nickname) {
        this.nickname = spelling; // the account's own spelling
        this.emit("identity", { nickname: this.nickname });
      }
    }
    this.note("info", info.text, info);
    const mute = M.readMuteInfo(info.text, this.nickname, P.number(f.params.get("until")));
    if (mute) this.emit("muted", mute); // "NICK was muted ..." with NICK ours
  }

  /** EDITED: the message's new text wherever it is shown. */
  onEdited(f) {
    const edit = P.readEdited(f);
    if (!edit.id) return;
    for (const conv of this.convs.byKey.values()) conv.editMessage(edit.id, edit.text, edit.edited);
    this.search.edit(edit.id, edit.text, edit.edited);
    this.emit("edited", edit);
  }

  /** DELETED: the message goes from every conversation and the search results. */
  onDeleted(f) {
    const gone = P.readDeleted(f);
    if (!gone.id) return;
    for (const conv of this.convs.byKey.values()) conv.removeMessage(gone.id);
    this.search.remove(gone.id);
    this.emit("deleted", { id: gone.id });
  }

  onWarn(f) {
    const warn = P.readWarn(f);
    if (!warn.reconnect) {
      this.wantOnline = false;
      this.ending = warn.kind;
      this.endText = warn.text;
      this.endBan = warn.kind === "banned" ? { until: warn.until, reason: warn.reason ?? "" } : null;
      this.cancelRetry();
    }
    this.note("warn", warn.text, P.readNotice(f));
  }

  onUsers(f) {
    if (f.reason === "USERCHANGES") this.followRenames(f);
    const after = (this.userList = P.followUsers(this.userList, f));
    if (after.resync) this.send(P.listUsers()); // out of step: a whole list, please
    if (after.parts === null) this.emit("users", { online: after.online, admins: after.admins });
  }

  /** "renames come through the lobby's USERCHANGES: clients rename in every list". */
  followRenames(f) {
    const count = Math.min(P.number(f.params.get("changes")) ?? 0, f.params.size);
    let renamed = false;
    for (let i = 0; i < count; i++) {
      const [old, now] = [f.params.get(`rename${i}`), f.params.get(`to${i}`)];
      if (old && now) {
        this.convs.renamed(old, now);
        renamed = true;
      }
    }
    if (renamed) this.emit("convs", {});
  }

  onConv(f) {
    const c = P.readConv(f);
    const why = this.lastInfo;
    if (c.gone) {
      this.convs.drop(c.rec);
      // "INFO ... to the members and to NICK; CONV gone=1 to NICK": the
      // removed member keeps the reason where they are now.
      if (why && convKey(why.rec) === convKey(c.rec)) this.note("info", why.text, { ...why, rec: null });
    } else this.convs.ensure(c.rec).applyConv(c);
    this.emit("convs", {});
  }

  /** MEMBERS, "split like USER, every part but the last with more=1". */
  onMembers(f) {
    const { room, members: part } = P.readMembers(f);
    const conv = this.convs.get(room);
    if (!conv) return;
    const members = [...(conv.memberParts ?? []), ...part];
    if (f.params.get("more") === "1") {
      conv.memberParts = members;
      return;
    }
    conv.memberParts = null;
    conv.members = members;
    conv.memberCount = members.length;
    this.emit("members", { conv });
  }

  onMember(f) {
    const conv = this.convs.get(f.params.get("room") ?? "");
    if (!conv || conv.members === null) return;
    conv.members = P.followMembers({ room: conv.rec, members: conv.members }, f).members;
    conv.memberCount = conv.members.length;
    this.emit("members", { conv });
  }

  onSession(f) {
    const session = P.readSession(f);
    if (session === null) return;
    if (this.credentials) this.credentials.token = session.token;
    this.emit("session", session);
  }

  onConfirm(f) {
    const answer = P.readUpdate(f);
    if (answer !== null) this.updateAnswered(answer);
    const reply = P.readAnswer(f);
    if (reply.reason === "HISTORY") this.historyAnswered(reply);
    else if (reply.reason === "SEARCH") {
      this.search.answered(reply);
      this.emit("search", { search: this.search });
    } else if (ROOM_REASONS.has(reply.reason)) {
      const muted = reply.ok ? null : M.readMuted(reply.text, P.number(f.params.get("until")));
      if (muted) this.emit("muted", { ...muted, muted: true });
      this.emit("answer", reply);
    }
    // REF: "Resending messages..." and DISCON: "Disconnected Successfully."
    // need no line of their own (the close that follows DISCON ends it).
  }

  /** UPLOAD granted: the answer to the oldest UPLOAD asked. */
  onUpload(f) {
    if (this.uploadsAsked === 0) return; // not ours to take (a frame of another socket's life)
    this.uploadsAsked -= 1;
    this.emit("upload", { ok: true, grant: P.readUpload(f) });
  }

  onErr(f) {
    const err = P.readNotice(f);
    if (this.uploadsAsked > 0) {
      // "Refused: ERR,time=..,<text>": the UPLOAD's refusal, shown where the upload is.
      this.uploadsAsked -= 1;
      this.emit("upload", { ok: false, text: err.text });
    } else this.note("error", err.text, err);
    const muted = M.readMuted(err.text, P.number(f.params.get("until")));
    if (muted) this.emit("muted", { ...muted, muted: true });
    if (err.text === UNKNOWN_HISTORY) this.historyRefused(false); // a server without HISTORY: no page waits for it
    else if (err.text === T.TOO_FAST) this.historyRefused(true);
  }

  /**
   * A HISTORY refused by ERR (no CONFIRM comes): no conversation stays
   * waiting. `retry`: the open one asks again a little later if it has no
   * page yet; older pages are asked again by scrolling up.
   */
  historyRefused(retry) {
    for (const conv of this.convs.byKey.values()) {
      if (conv.history !== "loading") continue;
      const at = conv.asks.findIndex((ask) => ask.dir === "older");
      if (at >= 0) conv.asks.splice(at, 1);
      if (!retry) conv.more = false;
      conv.history = retry && conv.pages === 0 ? "none" : "loaded";
      this.emit("history", { conv, count: 0, more: conv.more });
      if (conv.history === "none" && conv === this.convs.open) {
        this.timers.setTimeout(() => conv.history === "none" && conv === this.convs.open && this.loadHistory(conv), HISTORY_RETRY_MS);
      }
    }
  }

  historyAnswered({ rec, ok, more, count, text }) {
    const conv = this.convs.get(rec || P.EVERYONE);
    if (!conv) return;
    const ask = conv.asks.shift() ?? { dir: "older" };
    if (ask.stale) return;
    if (ask.dir === "newer") {
      // Forward from a jump: on until the newest (more=0), then live messages join the log.
      conv.gapAfter = ok && more ? conv.newestId() || conv.gapAfter : null;
      if (!ok) this.note("error", text);
      this.emit("history", { conv, count, more: conv.more, newer: true });
      return;
    }
    if (ok) conv.more = more;
    else this.note("error", text);
    conv.history = "loaded";
    conv.pages += 1;
    this.emit("history", { conv, count, more: conv.more });
  }

  updateAnswered({ ok, text }) {
    const asked = this.pendingUpdates.shift() ?? {};
    if (ok && this.credentials) {
      for (const key of ["nickname", "color", "password"]) {
        if (asked[key]) this.credentials[key] = asked[key];
      }
      if (asked.nickname) {
        this.nickname = asked.nickname;
        this.emit("identity", { nickname: this.nickname });
      }
    }
    this.emit("update-result", { ok, text });
  }
}

// Dispatch on the frame's reason; anything else is reported, never fatal.
// A Map, not an object: a reason such as `constructor` must not find a handler.
const HANDLERS = new Map([
  ["CONVER", ChatClient.prototype.onConver],
  ["CHATR", ChatClient.prototype.onChatr],
  ["INFO", ChatClient.prototype.onInfo],
  ["WARN", ChatClient.prototype.onWarn],
  ["CONFIRM", ChatClient.prototype.onConfirm],
  ["USER", ChatClient.prototype.onUsers],
  ["USERCHANGES", ChatClient.prototype.onUsers],
  ["CONV", ChatClient.prototype.onConv],
  ["MEMBERS", ChatClient.prototype.onMembers],
  ["MEMBER", ChatClient.prototype.onMember],
  ["SESSION", ChatClient.prototype.onSession],
  ["ROOMS", function onRooms(f) { this.emit("rooms", { rooms: P.readRooms(f) }); }],
  ["EDITED", ChatClient.prototype.onEdited],
  ["DELETED", ChatClient.prototype.onDeleted],
  ["BANS", function onBans(f) { this.emit("bans", P.readBans(f)); }],
  ["REPORTS", function onReports(f) { this.emit("reports", P.readReports(f)); }],
  ["ACCOUNTS", function onAccounts(f) { this.emit("accounts", { accounts: P.readAccounts(f) }); }],
  ["AUDIT", function onAudit(f) { this.emit("audit", P.readAudit(f)); }],
  ["UPLOAD", ChatClient.prototype.onUpload],
  ["ERR", ChatClient.prototype.onErr],
  ["PONG", () => {}],
]);
