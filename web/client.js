// The chat session over one WebSocket at a time, with no DOM: log in,
// dispatch each frame on its reason, reconnect with backoff. The page
// listens to its events (see EVENTS) and calls its methods.
//
// Rules (PROTOCOL.md, "What clients conclude from server frames"; the
// readers are in protocol.js, shared with the desktop client through
// tests/vectors/client.json):
// - one WebSocket text message is exactly one frame, both ways;
// - after CONVER OK the page sends REF,, and de-duplicates the replay by id;
// - any drop that is not a Leave, a kick or a flood disconnect reconnects
//   with backoff, sending CON again with the remembered credentials (the
//   password only in memory);
// - a refused login is retried (with backoff) only when reconnecting, and
//   only for the temporary refusals; any other ends the session.

import { ProtocolError, formatFrame, parseFrame } from "./codec.js";
import * as P from "./protocol.js";
import { Backoff, MessageIndex } from "./state.js";

// status: {state: "offline"|"connecting"|"online"|"reconnecting", reason, retryAt}
// login-error: {text}          logged-in: {role, first}     identity: {nickname}
// chat: {message, beforeId, live, own, toMe, mention}       users: {online, admins}
// notice: {kind: "info"|"error"|"warn"|"client", text, sender, ts, time}
// update-result: {ok, text}    ended: {why: "left"|"kicked"|"flooding", text}
export const EVENTS = [
  "status", "login-error", "logged-in", "identity", "chat", "users", "notice", "update-result", "ended",
];

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
    this.index = new MessageIndex();
    this.ws = null;
    this.retryTimer = null;
    this.credentials = null; // {nickname, password, color}: memory only
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
    this.userList = P.NO_USERS;
    this.status = { state: "offline", reason: "", retryAt: 0 };
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

  /** Log in with {nickname, password, color}, opening a socket if none is open. */
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

  /** Send a chat message; returns "" when sent, else why not. */
  sendChat(rec, text) {
    if (!this.online) return "Not connected.";
    if (P.chatBytes(rec, text) > P.MAX_FRAME_BYTES) return "Message too long.";
    return this.send(P.chat(rec, text)) ? "" : "Message could not be sent.";
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

  /** DISCON,, and no reconnecting; closes the socket if the server does not. */
  leave() {
    this.wantOnline = false;
    this.ending = "left";
    this.endText = "You left the chat.";
    this.cancelRetry();
    if (this.ws && this.ws.readyState === OPEN) {
      this.send(P.discon());
      const ws = this.ws;
      this.timers.setTimeout(() => ws.readyState === OPEN && ws.close(1000), LEAVE_GRACE_MS);
    } else {
      this.dropSocket();
      this.finish();
    }
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
    this.send(P.con(this.credentials));
  }

  closed(code, reason) {
    this.ws = null;
    const text = P.closeText(code, reason);
    const wasPending = this.loginPending;
    this.online = false;
    this.loginPending = false;
    this.pendingUpdates = [];
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
    this.setStatus("offline", this.endText);
    this.emit("ended", { why, text: this.endText });
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
  }

  report(what) {
    this.log.warn(`Parley: the server sent ${what}`);
    this.note("client", `The server sent ${what}; ignored.`);
  }

  note(kind, text, notice = {}) {
    this.emit("notice", { kind, text, sender: notice.sender ?? "", ts: notice.ts ?? null, time: notice.time ?? "" });
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
    this.online = true;
    this.wantOnline = true;
    this.role = login.role ?? "";
    this.nickname = this.credentials.nickname;
    this.awaitingJoin = true;
    this.backoff.reset();
    this.setStatus("online");
    this.emit("logged-in", { role: this.role, first });
    this.emit("identity", { nickname: this.nickname });
    this.send(P.ref());
  }

  loginFailed({ text, retry }) {
    // Reconnecting right after a drop, the server may not have noticed the
    // old connection leave yet, or may hold back our address for a while.
    if (retry) {
      this.dropSocket();
      this.scheduleRetry(text);
      return;
    }
    this.wantOnline = false;
    this.setStatus("offline", text);
    this.emit("login-error", { text });
  }

  onChatr(f) {
    const message = P.readChat(f, this.nickname);
    let beforeId = null;
    if (message.id !== null) {
      const place = this.index.place(message.id);
      if (place === null) return; // seen already: replayed history
      beforeId = place.beforeId;
    }
    const { mine: own, toMe } = message;
    const live = this.joinTs === null || message.ts === null || message.ts >= this.joinTs;
    const mention = !own && P.mentions(message.text, this.nickname);
    this.emit("chat", { message, beforeId, live, own, toMe, mention });
  }

  onInfo(f) {
    const info = P.readNotice(f);
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
  }

  onWarn(f) {
    const warn = P.readWarn(f);
    if (!warn.reconnect) {
      this.wantOnline = false;
      this.ending = warn.kind;
      this.endText = warn.text;
      this.cancelRetry();
    }
    this.note("warn", warn.text, P.readNotice(f));
  }

  onUsers(f) {
    const after = (this.userList = P.followUsers(this.userList, f));
    if (after.resync) this.send(P.listUsers()); // out of step: a whole list, please
    if (after.parts === null) this.emit("users", { online: after.online, admins: after.admins });
  }

  onConfirm(f) {
    const answer = P.readUpdate(f);
    if (answer !== null) this.updateAnswered(answer);
    // REF: "Resending messages..." and DISCON: "Disconnected Successfully."
    // need no line of their own (the close that follows DISCON ends it).
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
  ["ERR", function onErr(f) { const err = P.readNotice(f); this.note("error", err.text, err); }],
  ["PONG", () => {}],
]);
