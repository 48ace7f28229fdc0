// The page's chat session (web/client.js) against a fake WebSocket and fake timers.
import { test } from "node:test";
import assert from "node:assert/strict";

import { ChatClient, socketUrl } from "../../web/client.js";
import { Backoff } from "../../web/state.js";
import { FakeSocket, FakeTimers } from "./fakes.mjs";

function setup() {
  FakeSocket.made = [];
  const timers = new FakeTimers();
  const warnings = [];
  const client = new ChatClient({
    url: "ws://host/chat/ws",
    WebSocketImpl: FakeSocket,
    timers,
    backoff: new Backoff({ random: () => 1 }),
    log: { warn: (text) => warnings.push(text) },
  });
  const events = [];
  for (const name of ["status", "login-error", "logged-in", "identity", "chat", "users", "notice", "update-result", "ended"]) {
    client.on(name, (detail) => events.push([name, detail]));
  }
  const socket = () => FakeSocket.made.at(-1);
  const of = (name) => events.filter(([n]) => n === name).map(([, d]) => d);
  return { client, timers, warnings, events, socket, of };
}

const ANN = { nickname: "ann", password: "pw", color: "#ff8800" };
const JOIN = "INFO,time=t;sender=ann;ts=1000,ann has joined the chat!";
const chatr = (id, text, extra = "sender=bob;rec=-ALL") =>
  `CHATR,time=2026-01-01 10:00:00;${extra};color=#123;id=${id};ts=${900 + id},${text}`;

function loggedIn() {
  const t = setup();
  t.client.login(ANN);
  t.socket().accept();
  t.socket().receive("CONVER,time=t;role=member,OK", JOIN, "USER,time=t;num=1;admin=0;0=ann,");
  return t;
}

test("the WebSocket URL is ws beside the page, wss under https", () => {
  assert.equal(socketUrl("http://h:8080/chat/index.html?x=1#y"), "ws://h:8080/chat/ws");
  assert.equal(socketUrl("https://h/"), "wss://h/ws");
});

test("login sends CON with escaped values and the extensions, then HISTORY of the lobby after OK", () => {
  const { client, socket, of } = setup();
  client.login({ nickname: "a;b", password: "p=w,", color: "#fff" });
  assert.deepEqual(of("status").map((s) => s.state), ["connecting"]);
  socket().accept();
  assert.deepEqual(socket().sent, ["CON,nickname=a/;b;password=p/=w/,;color=#fff;lists=changes;rooms=1;session=1,"]);
  socket().receive("CONVER,time=t;role=admin,OK");
  assert.deepEqual(socket().sent.at(-1), "HISTORY,rec=-ALL;limit=50,");
  assert.equal(client.isAdmin(), true);
  assert.deepEqual(of("logged-in"), [{ role: "admin", first: true }]);
  assert.equal(of("status").at(-1).state, "online");
});

test("a refused login is shown and CON may be sent again on the same socket", () => {
  const { client, socket, of } = setup();
  client.login(ANN);
  socket().accept();
  socket().receive("CONVER,time=t,Error: User is a registered user");
  assert.deepEqual(of("login-error"), [{ text: "Error: User is a registered user" }]);
  client.login({ ...ANN, password: "right" });
  assert.equal(FakeSocket.made.length, 1);
  assert.equal(socket().sent.length, 2);
});

test("a registered name's own spelling comes from the join INFO", () => {
  const { client, socket, of } = setup();
  client.login({ ...ANN, nickname: "ANN" });
  socket().accept();
  socket().receive("CONVER,time=t;role=member,OK", JOIN);
  assert.equal(client.nickname, "ann");
  assert.deepEqual(of("identity").map((i) => i.nickname), ["ANN", "ann"]);
});

test("chat messages are de-duplicated by id and placed in id order", () => {
  const { client, socket, of } = loggedIn();
  socket().receive(chatr(5, "five"), chatr(3, "three"), chatr(5, "again"), chatr(4, "four"), chatr(9, "nine"));
  assert.deepEqual(of("chat").map((c) => [c.message.id, c.index]), [[5, 0], [3, 0], [4, 1], [9, 3]]);
  assert.deepEqual(client.convs.get("-ALL").items.filter((i) => i.type === "msg").map((i) => i.id), [3, 4, 5, 9]);
});

test("own, private and mention flags; history is not live", () => {
  const { socket, of } = loggedIn();
  socket().receive(
    chatr(1, "hello ann!", "sender=bob;rec=-ALL"),
    chatr(200, "psst", "sender=bob;rec=ANN"),
    chatr(201, "mine", "sender=ann;rec=bob"),
    chatr(202, "joanna is not ann's", "sender=bob;rec=-ALL"),
    chatr(203, "joanna", "sender=bob;rec=-ALL"),
  );
  const flags = of("chat").map((c) => [c.message.id, c.live, c.own, c.toMe, c.mention]);
  assert.deepEqual(flags, [
    [1, false, false, false, true],
    [200, true, false, true, false],
    [201, true, true, false, false],
    [202, true, false, false, true],
    [203, true, false, false, false],
  ]);
});

test("a drop reconnects with backoff, logs in again and replays history without duplicates", () => {
  const { client, socket, timers, of } = loggedIn();
  socket().receive(chatr(1, "one"));
  socket().drop(1011, "Lost the connection to the chat server");
  const status = of("status").at(-1);
  assert.equal(status.state, "reconnecting");
  assert.equal(status.reason, "Lost the connection to the chat server");
  assert.deepEqual(timers.runAll(), [500]);
  socket().drop(1013, "Chat server unavailable; try again later");
  assert.deepEqual(timers.runAll(), [1000]);
  socket().accept();
  assert.equal(socket().sent[0], "CON,nickname=ann;password=pw;color=#ff8800;lists=changes;rooms=1;session=1,");
  socket().receive("CONVER,time=t;role=member,OK", JOIN, chatr(1, "one"), chatr(2, "two"));
  assert.deepEqual(socket().sent, [
    "CON,nickname=ann;password=pw;color=#ff8800;lists=changes;rooms=1;session=1,", "HISTORY,rec=-ALL;limit=50,"]);
  assert.deepEqual(of("chat").map((c) => c.message.id), [1, 2]);
  assert.equal(of("logged-in").at(-1).first, false);
  assert.equal(client.backoff.attempt, 0);
  // The backoff caps at 15 s.
  for (let i = 0; i < 8; i++) {
    socket().drop(1006);
    timers.runAll();
  }
  socket().drop(1006);
  assert.deepEqual(timers.runAll(), [15000]);
});

test("\"already logged in\" while reconnecting is retried; another refusal stops", () => {
  const { socket, timers, of } = loggedIn();
  socket().drop(1000, "Chat server closed the connection");
  timers.runAll();
  socket().accept();
  socket().receive("CONVER,time=t,Error: User is already logged in");
  assert.equal(socket().readyState, 3);
  assert.equal(of("status").at(-1).state, "reconnecting");
  timers.runAll();
  socket().accept();
  socket().receive("CONVER,time=t,Error: User is a registered user");
  assert.equal(of("status").at(-1).state, "offline");
  assert.deepEqual(of("login-error").at(-1), { text: "Error: User is a registered user" });
  assert.equal(timers.pending.size, 0);
});

test("a kick is shown and never reconnects", () => {
  const { socket, timers, of } = loggedIn();
  socket().receive("WARN,time=t,You have been kicked for reason: spam");
  socket().drop(1000, "Chat server closed the connection");
  assert.equal(timers.pending.size, 0);
  assert.deepEqual(of("ended"), [{ why: "kicked", text: "You have been kicked for reason: spam" }]);
  assert.deepEqual(of("status").at(-1), { state: "offline", reason: "You have been kicked for reason: spam", retryAt: 0 });
});

test("leave sends DISCON and does not reconnect", () => {
  const { client, socket, timers, of } = loggedIn();
  client.leave();
  assert.equal(socket().sent.at(-1), "DISCON,,");
  socket().receive("CONFIRM,time=t;reason=DISCON,Disconnected Successfully.");
  socket().drop(1000, "Chat server closed the connection");
  timers.runAll(); // the grace timer finds the socket closed
  assert.equal(FakeSocket.made.length, 1);
  assert.deepEqual(of("ended"), [{ why: "left", text: "You left the chat." }]);
});

test("leave while reconnecting cancels the retry", () => {
  const { client, socket, timers, of } = loggedIn();
  socket().drop(1006);
  client.leave();
  assert.equal(timers.pending.size, 0);
  assert.equal(of("status").at(-1).state, "offline");
});

test("UPDATE sends only the changes and remembers them for the next login", () => {
  const { client, socket, timers, of } = loggedIn();
  assert.equal(client.update({ nickname: "", color: "#00ff00", password: "" }), true);
  assert.equal(socket().sent.at(-1), "UPDATE,color=#00ff00,");
  assert.equal(client.update({}), false);
  socket().receive("CONFIRM,time=t;reason=UPDATE,OK");
  client.update({ nickname: "anna", password: "secret" });
  assert.equal(socket().sent.at(-1), "UPDATE,nickname=anna;password=secret,");
  socket().receive("CONFIRM,time=t;reason=UPDATE,OK");
  assert.equal(client.nickname, "anna");
  client.update({ nickname: "b" });
  socket().receive("CONFIRM,time=t;reason=UPDATE,Error: Username must be between lengths 2 and 16. ");
  assert.deepEqual(of("update-result").map((r) => r.ok), [true, true, false]);
  socket().drop(1006);
  timers.runAll();
  socket().accept();
  assert.equal(socket().sent[0], "CON,nickname=anna;password=secret;color=#00ff00;lists=changes;rooms=1;session=1,");
});

test("chat, kick and the 8192-byte limit", () => {
  const { client, socket } = loggedIn();
  assert.equal(client.sendChat("-ALL", "a,b;c"), "");
  assert.equal(socket().sent.at(-1), "CHAT,rec=-ALL,a,b;c");
  assert.equal(client.sendChat("bob", "é".repeat(4100)), "Message too long.");
  assert.equal(client.sendChat("-ALL", "x".repeat(8192 - "CHAT,rec=-ALL,".length)), "");
  assert.equal(client.kick("bob", "spam"), true);
  assert.equal(socket().sent.at(-1), "KICK,user=bob,spam");
});

test("unknown, malformed and binary frames are reported, never fatal", () => {
  const { socket, warnings, of } = loggedIn();
  socket().receive("HELLO,,x", "constructor,,", "bad frame", new ArrayBuffer(2), "PONG,time=t,x");
  socket().receive("ERR,time=t,Error: bob Unrecognized recipient.");
  assert.equal(warnings.length, 4);
  const notices = of("notice").map((n) => [n.kind, n.text]);
  assert.deepEqual(notices.slice(-5), [
    ["client", "The server sent an unknown frame: HELLO; ignored."],
    ["client", "The server sent an unknown frame: constructor; ignored."],
    ["client", "The server sent a malformed frame (no-separator); ignored."],
    ["client", "The server sent a binary message; ignored."],
    ["error", "Error: bob Unrecognized recipient."],
  ]);
});

test("the user list is read from 0-based keys and admin keys", () => {
  const { socket, of } = loggedIn();
  socket().receive("USER,time=t;num=2;admin=2;0=ann;1=b/;ob;admin0=ann;admin1=zed,");
  assert.deepEqual(of("users").at(-1), { online: ["ann", "b;ob"], admins: ["ann", "zed"] });
});

test("a failed connection before any login is shown by the form", () => {
  const { client, socket, timers, of } = setup();
  client.login(ANN);
  socket().accept();
  socket().drop(1013, "Chat server unavailable; try again later");
  assert.deepEqual(of("login-error"), [{ text: "Chat server unavailable; try again later" }]);
  assert.equal(timers.pending.size, 0);
  client.login(ANN);
  assert.equal(FakeSocket.made.length, 2);
});

test("a second Join while CON is unanswered sends nothing more", () => {
  const { client, socket } = setup();
  client.login(ANN);
  socket().accept();
  client.login(ANN);
  assert.equal(socket().sent.length, 1);
});
