// Moderation, editing and search in the page's model (web/moderation.js) and
// its chat session (web/client.js), with a fake WebSocket.
import { test } from "node:test";
import assert from "node:assert/strict";

import { ChatClient } from "../../web/client.js";
import { formatFrame } from "../../web/codec.js";
import * as M from "../../web/moderation.js";
import { Backoff } from "../../web/state.js";
import { FakeSocket, FakeTimers } from "./fakes.mjs";

const ANN = { nickname: "ann", password: "password1", color: "#ff8800", remember: true };
const JOIN_TS = 5000;
const chatr = (id, text, extra = "sender=bob;rec=-ALL", ts = JOIN_TS + id) =>
  `CHATR,time=t;${extra};color=#123;id=${id};ts=${ts},${text}`;
const old = (id, text, rec = "-ALL") => `CHATR,time=t;sender=bob;rec=${rec};color=#123;id=${id};ts=${id};old=1,${text}`;
const history = (rec, count, more) => `CONFIRM,time=t;reason=HISTORY;rec=${rec};count=${count};more=${more ? 1 : 0},OK`;
const ids = (conv) => conv.items.filter((i) => i.type === "msg").map((i) => i.id);

function loggedIn(role = "member") {
  FakeSocket.made = [];
  const client = new ChatClient({
    url: "ws://h/ws", WebSocketImpl: FakeSocket, timers: new FakeTimers(),
    backoff: new Backoff({ random: () => 1 }), log: { warn: () => {} },
  });
  const events = [];
  for (const name of ["chat", "edited", "deleted", "search", "muted", "answer", "ended", "login-error", "bans", "reports", "accounts", "audit", "history"]) {
    client.on(name, (detail) => events.push([name, detail]));
  }
  client.login(ANN);
  const socket = FakeSocket.made.at(-1);
  socket.accept();
  socket.receive(`CONVER,time=t;role=${role},OK`, `INFO,time=t;sender=ann;ts=${JOIN_TS},ann has joined the chat!`);
  const of = (name) => events.filter(([n]) => n === name).map(([, d]) => d);
  return { client, socket, of };
}

test("frames: bans, mutes, kicks with a ban, deletes, reports, the admin's lists", () => {
  const f = (x) => formatFrame(x);
  assert.equal(f(M.banUser("bob", { seconds: 3600, addresses: true, reason: "spam, again" })),
    "BAN,user=bob;duration=3600;addresses=1,spam, again");
  assert.equal(f(M.banUser("bob")), "BAN,user=bob,");
  assert.equal(f(M.banAddress("198.51.100.0/24", { seconds: 600, reason: "r" })), "BAN,address=198.51.100.0//24;duration=600,r");
  assert.equal(f(M.banFromRoom("#tea", "bob", { seconds: 0, reason: "" })), "BAN,room=#tea;user=bob,");
  assert.equal(f(M.kickUser("bob", { ban: true, seconds: 86400, reason: "go" })), "KICK,user=bob;ban=1;duration=86400,go");
  assert.equal(f(M.kickUser("bob", { reason: "go" })), "KICK,user=bob,go");
  assert.equal(f(M.mute("-ALL", "bob", { seconds: 600, reason: "calm" })), "MUTE,room=-ALL;user=bob;duration=600,calm");
  assert.equal(f(M.unmute("#tea", "bob")), "UNMUTE,room=#tea;user=bob,");
  assert.equal(f(M.unban(7)), "UNBAN,ban=7,");
  assert.equal(f(M.deleteMessage(12)), "DELETE,id=12,");
  assert.equal(f(M.reportMessage(12, "rude; very")), "REPORT,id=12,rude; very");
  assert.equal(f(M.listBans("#tea")), "BANS,room=#tea,");
  assert.equal(f(M.listBans()), "BANS,,");
  assert.equal(f(M.auditLog(40)), "AUDIT,before=40,");
  assert.equal(f(M.resolveReport(3)), "RESOLVE,report=3,");
  assert.equal(f(M.historyAfter("#tea", 9, 25)), "HISTORY,rec=#tea;after=9;limit=25,");
});

test("the words of a mute: room, until and reason; about us only", () => {
  assert.deepEqual(M.readMuted("Error: You are muted in #tea until 2026-11-25 10:00 UTC: too loud: really", 1795600800000),
    { rec: "#tea", until: 1795600800000, reason: "too loud: really" });
  assert.deepEqual(M.readMuted("Error: You are muted for good", 0), { rec: "-ALL", until: 0, reason: "" });
  assert.equal(M.readMuted("Error: You are not in #tea.", null), null);
  assert.deepEqual(M.readMuteInfo("ann was muted in #tea by bob for good: hush", "ann", 0),
    { rec: "#tea", muted: true, until: 0, reason: "hush" });
  assert.deepEqual(M.readMuteInfo("ann was unmuted by boss", "ann", null), { rec: "-ALL", muted: false, until: 0, reason: "" });
  assert.equal(M.readMuteInfo("anna was muted by boss for good", "ann", 0), null);
  assert.equal(M.restrictionReason("You have been banned until 2026-11-25 10:00 UTC"), "");
  assert.equal(M.inForce({ until: 0 }), true);
  assert.equal(M.inForce({ until: 1000 }, 2000), false);
  assert.equal(M.localUntil(0), "for good");
  assert.match(M.localUntil(Date.UTC(2026, 10, 25, 10)), /^until .*2026/);
});

test("an edit changes the message wherever it is shown; a delete takes it away", () => {
  const { client, socket, of } = loggedIn();
  socket.receive(chatr(1, "helo"), chatr(2, "second"));
  const lobby = client.convs.get("-ALL");
  socket.receive("EDITED,time=t;id=1;rec=-ALL;sender=bob;edited=9000;lines=5,hello world");
  assert.equal(lobby.items.find((i) => i.id === 1).event.message.text, "hello\nworld");
  assert.equal(lobby.items.find((i) => i.id === 1).event.message.edited, 9000);
  assert.deepEqual(of("edited").map((e) => e.id), [1]);
  socket.receive("DELETED,time=t;id=2;rec=-ALL,");
  assert.deepEqual(ids(lobby), [1]);
  assert.deepEqual(of("deleted").map((e) => e.id), [2]);
  // A message not shown changes nothing.
  socket.receive("DELETED,time=t;id=99;rec=-ALL,", "EDITED,time=t;id=98;rec=-ALL;sender=bob;edited=1,x");
  assert.deepEqual(ids(lobby), [1]);
});

test("search: results apart from the conversations, paged by the oldest, edits and deletes reach them", () => {
  const { client, socket, of } = loggedIn();
  const lobby = client.convs.get("-ALL");
  const before = ids(lobby);
  assert.equal(client.searchFor("tea time", "#tea"), true);
  assert.equal(socket.sent.at(-1), "SEARCH,rec=#tea;limit=20,tea time");
  socket.receive(
    "CHATR,time=t;sender=bob;rec=#tea;color=#123;id=30;ts=30;found=1,tea time now",
    "CHATR,time=t;sender=bob;rec=#tea;color=#123;id=12;ts=12;edited=20;found=1,more tea time",
    "CONFIRM,time=t;reason=SEARCH;rec=#tea;count=2;more=1,OK",
  );
  assert.deepEqual(ids(lobby), before);
  assert.equal(client.convs.get("#tea"), null); // results make no conversation
  assert.deepEqual(client.search.results.map((r) => r.id), [30, 12]);
  assert.equal(client.search.results[1].edited, 20);
  assert.equal(client.search.state, "done");
  assert.equal(client.searchMore(), true);
  assert.equal(socket.sent.at(-1), "SEARCH,rec=#tea;before=12;limit=20,tea time");
  assert.equal(client.searchMore(), false); // one page at a time
  socket.receive("CONFIRM,time=t;reason=SEARCH;rec=#tea;count=0;more=0,OK");
  socket.receive("EDITED,time=t;id=30;rec=#tea;sender=bob;edited=40,tea later", "DELETED,time=t;id=12;rec=#tea,");
  assert.deepEqual(client.search.results.map((r) => [r.id, r.text]), [[30, "tea later"]]);
  // An error answer is kept for the page to show.
  client.searchFor('"');
  socket.receive("CONFIRM,time=t;reason=SEARCH;count=0;more=0,Error: Nothing to search for.");
  assert.deepEqual([client.search.state, client.search.error], ["error", "Error: Nothing to search for."]);
  assert.ok(of("search").length >= 4);
});

test("a jump shows the messages around one, pages forward to the newest, then live messages join", () => {
  const { client, socket, of } = loggedIn();
  socket.receive(old(500, "newest"), history("-ALL", 1, true));
  const lobby = client.jumpTo("-ALL", 100) && client.convs.get("-ALL");
  assert.deepEqual(socket.sent.slice(-2), ["HISTORY,rec=-ALL;before=101;limit=25,", "HISTORY,rec=-ALL;after=100;limit=25,"]);
  assert.deepEqual(ids(lobby), []);
  socket.receive(old(99, "before"), old(100, "found"), history("-ALL", 2, true));
  socket.receive(chatr(501, "live, while away from the newest"));
  socket.receive(old(101, "after"), history("-ALL", 1, true));
  assert.deepEqual(ids(lobby), [99, 100, 101]);
  assert.equal(lobby.unread, 1); // counted, not shown out of place
  assert.equal(lobby.gapAfter, 101);
  assert.equal(of("history").at(-1).newer, true);
  assert.equal(client.loadNewer(lobby), true);
  assert.equal(socket.sent.at(-1), "HISTORY,rec=-ALL;after=101;limit=50,");
  assert.equal(client.loadNewer(lobby), false);
  socket.receive(old(500, "newest"), old(501, "live, while away from the newest"), history("-ALL", 2, false));
  assert.equal(lobby.gapAfter, null);
  socket.receive(chatr(502, "live again"));
  assert.deepEqual(ids(lobby), [99, 100, 101, 500, 501, 502]);
  // Older pages as ever, from the oldest shown.
  assert.equal(client.loadOlder(lobby), true);
  assert.equal(socket.sent.at(-1), "HISTORY,rec=-ALL;before=99;limit=50,");
});

test("a jump's answers that come after the log started again change nothing", () => {
  const { client, socket } = loggedIn();
  socket.receive(history("-ALL", 0, false));
  client.jumpTo("-ALL", 100);
  const lobby = client.convs.get("-ALL");
  client.showLatest(lobby); // "Jump to latest" before the pages came
  socket.receive(old(100, "found"), history("-ALL", 1, true), old(101, "after"), history("-ALL", 1, false));
  socket.receive(old(500, "newest"), history("-ALL", 1, true));
  assert.deepEqual(ids(lobby), [500]);
  assert.equal(lobby.gapAfter, null);
});

test("a ban WARN ends the session for good, with until and reason; a ban CONVER is not retried", () => {
  const { client, socket, of } = loggedIn();
  socket.receive("WARN,time=t;until=1795600800000,You have been banned until 2026-11-25 10:00 UTC: spam");
  socket.drop(1000);
  const ended = of("ended").at(-1);
  assert.deepEqual([ended.why, ended.until, ended.reason], ["banned", 1795600800000, "spam"]);
  assert.deepEqual(client.timers.runAll(), []); // no reconnect
  client.login(ANN);
  FakeSocket.made.at(-1).accept();
  FakeSocket.made.at(-1).receive("CONVER,time=t;until=0,Error: You are banned for good");
  const refused = of("login-error").at(-1);
  assert.deepEqual([refused.banned, refused.until, refused.reason], [true, 0, ""]);
  assert.equal(client.status.state, "offline");
});

test("muted: the ERR and the INFO about us say where, until when and why; unmuted clears it", () => {
  const { socket, of } = loggedIn();
  socket.receive("ERR,time=t;until=1795600800000,Error: You are muted in #tea until 2026-11-25 10:00 UTC: hush");
  socket.receive("INFO,time=t;sender=ann;ts=6000;until=0,ann was muted by boss for good");
  socket.receive("INFO,time=t;rec=#tea;ts=6001,ann was unmuted in #tea by bob");
  socket.receive("INFO,time=t;sender=bob;ts=6002;until=0,bob was muted by boss for good");
  assert.deepEqual(of("muted"), [
    { rec: "#tea", until: 1795600800000, reason: "hush", muted: true },
    { rec: "-ALL", muted: true, until: 0, reason: "" },
    { rec: "#tea", muted: false, until: 0, reason: "" },
  ]);
});

test("admin lists and answers reach the page", () => {
  const { socket, of } = loggedIn("admin");
  socket.receive(
    "BANS,time=t;num=1;id0=4;kind0=user;target0=bob;until0=0;by0=boss;at0=10;reason0=spam,",
    "REPORTS,time=t;num=1;new=1;id0=2;at0=5;by0=ann;msg0=9;sender0=bob;rec0=-ALL;reason0=rude;text0=hi,",
    "ACCOUNTS,time=t;num=1;0=boss;role0=admin;created0=3,",
    "AUDIT,time=t;num=1;more=1;id0=8;at0=7;actor0=boss;action0=ban;target0=bob;room0=;reason0=spam;detail0=,",
    "CONFIRM,time=t;reason=EDIT;id=9,Error: Messages can be edited for 15 minutes only.",
  );
  assert.equal(of("bans")[0].entries[0].target, "bob");
  assert.equal(of("reports")[0].new, true);
  assert.equal(of("accounts")[0].accounts[0].name, "boss");
  assert.equal(of("audit")[0].more, true);
  assert.deepEqual([of("answer")[0].reason, of("answer")[0].id, of("answer")[0].ok], ["EDIT", 9, false]);
});
