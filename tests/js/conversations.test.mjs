// The page's conversations (web/conversations.js) and the chat session's part
// in them (web/client.js), with a fake WebSocket.
import { test } from "node:test";
import assert from "node:assert/strict";

import { ChatClient } from "../../web/client.js";
import { Conversation, Drafts, dayLabel } from "../../web/conversations.js";
import { SESSION_ENDED } from "../../web/texts.js";
import { Backoff } from "../../web/state.js";
import { FakeSocket, FakeTimers } from "./fakes.mjs";

const ANN = { nickname: "ann", password: "pw", color: "#ff8800", remember: true };
const JOIN_TS = 5000;
const chatr = (id, text, extra = "sender=bob;rec=-ALL", ts = JOIN_TS + id) =>
  `CHATR,time=t;${extra};color=#123;id=${id};ts=${ts},${text}`;

function connected(credentials) {
  FakeSocket.made = [];
  const client = new ChatClient({
    url: "ws://h/ws", WebSocketImpl: FakeSocket, timers: new FakeTimers(),
    backoff: new Backoff({ random: () => 1 }), log: { warn: () => {} },
  });
  const events = [];
  for (const name of ["chat", "notice", "convs", "history", "members", "rooms", "answer", "session", "login-error", "ended"]) {
    client.on(name, (detail) => events.push([name, detail]));
  }
  client.login(credentials);
  const socket = FakeSocket.made.at(-1);
  socket.accept();
  const of = (name) => events.filter(([n]) => n === name).map(([, d]) => d);
  return { client, socket, of };
}

function loggedIn(credentials = ANN) {
  const t = connected(credentials);
  t.socket.receive("CONVER,time=t;role=member,OK", `INFO,time=t;sender=ann;ts=${JOIN_TS},ann has joined the chat!`);
  return t;
}

const messageIds = (conv) => conv.items.filter((i) => i.type === "msg").map((i) => i.id);

test("private messages each way land in one conversation, apart from the lobby", () => {
  const { client, socket } = loggedIn();
  socket.receive(chatr(1, "hi all"), chatr(2, "psst", "sender=bob;rec=ann"), chatr(3, "hi bob", "sender=ann;rec=BOB"));
  const bob = client.convs.get("bob");
  assert.deepEqual(bob.items.map((i) => i.event.message.text), ["psst", "hi bob"]);
  assert.deepEqual(messageIds(client.convs.get("-ALL")), [1]);
  assert.deepEqual(client.convs.list().map((c) => c.rec), ["-ALL", "bob"]);
});

test("our own join line stays below older history that comes after it", () => {
  const { client, socket } = loggedIn();
  socket.receive(chatr(7, "older", "sender=bob;rec=-ALL", JOIN_TS - 100), chatr(8, "newer", "sender=bob;rec=-ALL", JOIN_TS + 100));
  socket.receive("CHATR,time=t;sender=bob;rec=-ALL;id=3;ts=100;old=1,oldest");
  const kinds = client.convs.get("-ALL").items.map((i) => (i.type === "msg" ? i.id : i.notice.text));
  assert.deepEqual(kinds, [3, 7, "ann has joined the chat!", 8]);
});

test("a room's INFO goes to the room; an error to the open conversation", () => {
  const { client, socket } = loggedIn();
  socket.receive("CONV,time=t;rec=#tea;last=0;read=0;unread=0;mentions=0;members=1;op=1,Tea time");
  client.openConversation("#tea");
  socket.receive("INFO,time=t;sender=bob;ts=6000;rec=#tea,bob joined #tea", "ERR,time=t,Error: You are not in #x.");
  const room = client.convs.get("#TEA");
  assert.deepEqual(room.items.map((i) => i.notice.text), ["bob joined #tea", "Error: You are not in #x."]);
  assert.equal(room.topic, "Tea time");
  assert.equal(room.op, true);
});

test("unread and mentions: CONV's counts, live messages counted, READ sent when seen, other tabs agree", () => {
  const { client, socket, of } = loggedIn();
  socket.receive("CONV,time=t;rec=-ALL;last=10;read=8;unread=2;mentions=1,");
  const lobby = client.convs.get("-ALL");
  assert.deepEqual([lobby.unread, lobby.mentions], [2, 1]);
  socket.receive(chatr(11, "hey ann"), chatr(12, "mine", "sender=ann;rec=-ALL"), chatr(13, "anne and joanna"));
  assert.deepEqual([lobby.unread, lobby.mentions], [4, 2]);
  assert.equal(of("chat").at(-1).mention, false);
  // History is never unread.
  socket.receive("CHATR,time=t;sender=bob;rec=-ALL;id=9;ts=5;old=1,ann old");
  assert.deepEqual([lobby.unread, lobby.mentions], [4, 2]);
  assert.equal(client.markRead(lobby), true);
  assert.deepEqual([lobby.unread, lobby.mentions, lobby.read], [0, 0, 13]);
  assert.equal(client.markRead(lobby), false); // nothing new: nothing sent
  socket.receive(chatr(15, "and one more"));
  assert.equal(client.markRead(lobby), true);
  assert.ok(!socket.sent.at(-1).startsWith("READ"));
  assert.deepEqual(client.timers.runAll(), [300]); // one READ for both
  assert.equal(socket.sent.at(-1), "READ,rec=-ALL;id=15,");
  assert.equal(socket.sent.filter((t) => t.startsWith("READ")).length, 1);
  // The server's answer (also what another tab gets) never moves the marker back.
  socket.receive("CONV,time=t;rec=-ALL;last=13;read=13;unread=0;mentions=0,");
  assert.equal(lobby.read, 15);
  socket.receive(chatr(16, "late"), "CONV,time=t;rec=-ALL;last=15;read=15;unread=0;mentions=0,");
  assert.deepEqual([lobby.unread, lobby.read], [1, 15]);
});

test("history: the newest page on open, older pages by the oldest id until more=0", () => {
  const { client, socket, of } = loggedIn();
  assert.equal(socket.sent.at(-1), "HISTORY,rec=-ALL;limit=50,");
  socket.receive(
    "CHATR,time=t;sender=bob;rec=-ALL;id=60;ts=1;old=1,a",
    "CHATR,time=t;sender=bob;rec=-ALL;id=61;ts=2;old=1;lines=3,one two",
    "CONFIRM,time=t;reason=HISTORY;rec=-ALL;count=2;more=1,OK",
  );
  const lobby = client.convs.get("-ALL");
  assert.equal(lobby.items[1].event.message.text, "one\ntwo");
  assert.equal(of("history").at(-1).more, true);
  assert.equal(client.loadOlder(lobby), true);
  assert.equal(socket.sent.at(-1), "HISTORY,rec=-ALL;before=60;limit=50,");
  assert.equal(client.loadOlder(lobby), false); // one request at a time
  socket.receive("CHATR,time=t;sender=bob;rec=-ALL;id=1;ts=0;old=1,first", "CONFIRM,time=t;reason=HISTORY;rec=-ALL;count=1;more=0,OK");
  assert.equal(client.loadOlder(lobby), false);
  assert.deepEqual(messageIds(lobby), [1, 60, 61]);
  assert.equal(lobby.unread, 0);
  // A private conversation asks its own history once, by the other party's name.
  client.openConversation("Bob");
  assert.equal(socket.sent.at(-1), "HISTORY,rec=Bob;limit=50,");
  client.openConversation("bob");
  assert.equal(socket.sent.at(-1), "HISTORY,rec=Bob;limit=50,");
});

test("a failed HISTORY is shown and may be asked again", () => {
  const { client, socket, of } = loggedIn();
  socket.receive("CONFIRM,time=t;reason=HISTORY;rec=-ALL,Error: The message history could not be loaded, please try again.");
  assert.equal(of("notice").at(-1).text, "Error: The message history could not be loaded, please try again.");
  assert.equal(client.convs.get("-ALL").history, "loaded");
});

test("rooms: CONV lists them, MEMBERS and MEMBER keep the list, gone=1 drops one, answers are passed on", () => {
  const { client, socket, of } = loggedIn();
  socket.receive("CONV,time=t;rec=#tea;last=0;read=0;unread=0;mentions=0;members=2;private=1,");
  client.openConversation("#tea");
  assert.equal(socket.sent.at(-1), "MEMBERS,room=#tea,");
  socket.receive("MEMBERS,time=t;room=#tea;num=1;0=ann;op0=1;more=1,", "MEMBERS,time=t;room=#tea;num=1;0=bob,");
  socket.receive("MEMBER,time=t;room=#tea;user=carl;change=join,", "MEMBER,time=t;room=#tea;user=bob;change=op,");
  socket.receive("MEMBER,time=t;room=#tea;user=ann;change=leave,");
  const tea = client.convs.get("#tea");
  assert.deepEqual(tea.members, [{ nick: "bob", op: true }, { nick: "carl", op: false }]);
  assert.equal(tea.private, true);
  socket.receive("USERCHANGES,time=t;v=0;changes=1;rename0=carl;to0=carla;num=0,");
  assert.equal(tea.members[1].nick, "carla");
  socket.receive("INFO,time=t;sender=bob;ts=7000;rec=#tea;topic=New/, topic,bob set the topic of #tea: New, topic");
  assert.equal(tea.topic, "New, topic");
  socket.receive("CONFIRM,time=t;reason=PART;room=#tea,OK", "CONV,time=t;rec=#tea;last=0;read=0;unread=0;mentions=0;gone=1,");
  assert.equal(client.convs.get("#tea"), null);
  assert.equal(client.convs.open.rec, "-ALL");
  assert.deepEqual(of("answer").at(-1), { reason: "PART", room: "#tea", rec: null, user: null, count: null, more: false, ok: true, text: "OK", id: null, ban: null, report: null });
  socket.receive("ROOMS,time=t;num=2;0=#big;members0=5;topic0=Big/, room;1=#small;members1=1;topic1=,");
  assert.deepEqual(of("rooms").at(-1).rooms, [
    { name: "#big", members: 5, topic: "Big, room" }, { name: "#small", members: 1, topic: "" }]);
});

test("a SESSION token is kept and used to log in again after a drop; a session that ended falls back to the password", () => {
  const { client, socket, of } = loggedIn();
  assert.equal(socket.sent[0], "CON,nickname=ann;password=pw;color=#ff8800;lists=changes;rooms=1;session=1;remember=1,");
  client.sendChat("#tea", "one\ntwo");
  assert.equal(socket.sent.at(-1), "CHAT,rec=#tea;lines=3,one two");
  socket.receive("SESSION,time=t;token=T0k-_;expires=99,");
  assert.deepEqual(of("session").at(-1), { token: "T0k-_", expires: 99, remembered: true });
  socket.drop(1006);
  client.timers.runAll();
  const again = FakeSocket.made.at(-1);
  again.accept();
  assert.equal(again.sent[0], "CON,nickname=ann;password=pw;color=#ff8800;lists=changes;rooms=1;session=1;token=T0k-_;remember=1,");
  again.receive(`CONVER,time=t,${SESSION_ENDED}`);
  assert.equal(again.sent[1], "CON,nickname=ann;password=pw;color=#ff8800;lists=changes;rooms=1;session=1;remember=1,");
});

test("a stored token that ended: the session is forgotten and the form shows why", () => {
  const { socket, of } = connected({ nickname: "ann", password: "", color: "#fff", token: "old", remember: true });
  assert.match(socket.sent[0], /;token=old;remember=1,$/);
  socket.receive(`CONVER,time=t,${SESSION_ENDED}`);
  assert.deepEqual(of("session").at(-1), { token: "", expires: 0 });
  assert.deepEqual(of("login-error").at(-1), { text: SESSION_ENDED });
});

test("Leave forgets the conversations and the list", () => {
  const { client, socket, of } = loggedIn();
  socket.receive("CONV,time=t;rec=#tea;last=0;read=0;unread=0;mentions=0,", chatr(1, "x"));
  client.leave();
  socket.drop(1000);
  assert.deepEqual(client.convs.list().map((c) => c.rec), ["-ALL"]);
  assert.equal(client.convs.get("-ALL").items.length, 0);
  assert.equal(of("ended").length, 1);
});

test("drafts are kept per conversation in storage", () => {
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) };
  const drafts = new Drafts(storage);
  drafts.set("Bob", "secret plan");
  drafts.set("-ALL", "");
  const again = new Drafts(storage);
  assert.equal(again.get("bob"), "secret plan");
  assert.equal(again.get("-ALL"), "");
  assert.equal(new Drafts({ getItem: () => "not json" }).get("bob"), "");
});

test("the New messages divider goes above the first unread message not our own", () => {
  const conv = new Conversation("-ALL");
  for (const [id, own] of [[1, false], [2, true], [3, false]]) {
    conv.addMessage({ message: { id, ts: id, rec: "-ALL", sender: "x" }, own });
  }
  assert.equal(conv.firstUnreadId(1), 3);
  assert.equal(conv.firstUnreadId(3), null);
});

test("date separators read Today, Yesterday, else a date", () => {
  const now = new Date(2026, 10, 24, 9, 0);
  assert.equal(dayLabel(new Date(2026, 10, 24, 0, 1).getTime(), now), "Today");
  assert.equal(dayLabel(new Date(2026, 10, 23, 23, 59).getTime(), now), "Yesterday");
  assert.match(dayLabel(new Date(2026, 10, 20, 12).getTime(), now), /2026/);
});

test("a private conversation follows its other party's rename, and answers asked under the old name find it", () => {
  const { client, socket } = loggedIn();
  socket.receive("USER,time=t;num=2;admin=0;0=ann;1=bob;v=1,");
  client.openConversation("bob");
  socket.receive(chatr(1, "hi", "sender=bob;rec=ann"));
  socket.receive("USERCHANGES,time=t;v=1;changes=1;rename0=bob;to0=bobby;num=2,");
  assert.equal(client.convs.open.rec, "bobby");
  assert.equal(client.convs.get("bob").rec, "bobby");
  socket.receive("CONFIRM,time=t;reason=HISTORY;rec=bob;count=1;more=0,OK");
  assert.equal(client.convs.open.history, "loaded");
});

test("a HISTORY refused as too fast leaves no conversation waiting: the open one asks again later", () => {
  const { client, socket, of } = loggedIn();
  const lobby = client.convs.get("-ALL");
  socket.receive("ERR,time=t,Error: You are sending requests too fast. Please slow down.");
  assert.equal(lobby.history, "none");
  assert.equal(of("history").at(-1).conv, lobby);
  assert.deepEqual(client.timers.runAll(), [2000]);
  assert.equal(socket.sent.at(-1), "HISTORY,rec=-ALL;limit=50,");
  socket.receive("CHATR,time=t;sender=bob;rec=-ALL;id=70;ts=1;old=1,a", "CONFIRM,time=t;reason=HISTORY;rec=-ALL;count=1;more=1,OK");
  assert.equal(client.loadOlder(lobby), true);
  socket.receive("ERR,time=t,Error: You are sending requests too fast. Please slow down.");
  assert.equal(lobby.history, "loaded"); // scrolling up asks again
  assert.equal(lobby.more, true);
  assert.equal(client.timers.pending.size, 0);
});
