// The client vectors (tests/vectors/client.json) against the page's readers
// (web/protocol.js, web/names.js) and its chat session (web/client.js). The
// same file is run by tests/test_client_vectors.py against parley.protocol
// and the desktop client: what one client concludes, the other must too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { ChatClient } from "../../web/client.js";
import { formatFrame, parseFrame } from "../../web/codec.js";
import { isRoom, mentions, nickKey, nicknameError, roomKey, roomNameError, sameNick } from "../../web/names.js";
import {
  NO_USERS, chatFrame, conversationKey, editFrame, followMembers, followUsers, highlight, ownJoin, readAccounts,
  readAnswer, readAudit, readBans, readChat, readConv, readDeleted, readEdited, readInfo, readLogin, readMembers, readMuted,
  readReports, readRooms, readSession, readUpdate, readUsers, readWarn, searchFrame, searchWords,
} from "../../web/protocol.js";
import { Backoff } from "../../web/state.js";
import { FakeSocket, FakeTimers } from "./fakes.mjs";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/client.json", import.meta.url), "utf8"));
const FRAMES = VECTORS.frames;
const kind = (c) => Object.keys(c.expect)[0];
const ofKind = (name) => FRAMES.filter((c) => kind(c) === name);

/** A room's list {room, members: [{nick, op}]} in the vectors' shape: [nick, op] pairs. */
const membersAsVector = ({ room, members }) => ({ room, members: members.map(({ nick, op }) => [nick, op]) });

/** What web/protocol.js makes of the case's frame, in the vectors' JSON shape. */
function conclude(c) {
  const f = parseFrame(c.frame);
  switch (kind(c)) {
    case "login":
      return readLogin(f, c.reconnecting);
    case "warn":
      return readWarn(f);
    case "chat": {
      const { toMe, ...rest } = readChat(f, c.nickname);
      return { ...rest, to_me: toMe };
    }
    case "users":
      return readUsers(f);
    case "user_list": {
      const state = [...c.before, c.frame].reduce((list, text) => followUsers(list, parseFrame(text)), NO_USERS);
      return { online: state.online, admins: state.admins, resync: state.resync };
    }
    case "own_join":
      return ownJoin(f, c.nickname);
    case "update":
      return readUpdate(f);
    case "conv":
      return readConv(f);
    case "members":
      return membersAsVector(readMembers(f));
    case "member_list":
      return membersAsVector([...c.before, c.frame].reduce((list, text) => followMembers(list, parseFrame(text)), { room: c.room, members: [] }));
    case "rooms":
      return readRooms(f);
    case "session":
      return readSession(f);
    case "info":
      return readInfo(f);
    case "answer":
      return readAnswer(f);
    case "edited":
      return readEdited(f);
    case "deleted":
      return readDeleted(f);
    case "bans":
      return readBans(f);
    case "reports":
      return readReports(f);
    case "accounts":
      return readAccounts(f);
    case "audit":
      return readAudit(f);
    case "muted":
      return readMuted(f);
    default:
      throw new Error(`no reader for ${kind(c)}`);
  }
}

test("every kind of conclusion has vectors", () => {
  assert.deepEqual(new Set(FRAMES.map(kind)), new Set([
    "login", "warn", "chat", "users", "user_list", "own_join", "update", "conv", "members", "member_list", "rooms", "session", "info", "answer",
    "edited", "deleted", "bans", "reports", "accounts", "audit", "muted",
  ]));
});

for (const c of FRAMES) {
  test(`the page's readers conclude what the vector says: ${c.name}`, () => {
    assert.deepEqual(conclude(c), c.expect[kind(c)]);
  });
}

for (const [nickname, error] of VECTORS.nicknames) {
  test(`nickname rule: ${JSON.stringify(nickname)}`, () => {
    assert.equal(nicknameError(nickname), error);
  });
}

for (const [a, b, same] of VECTORS.same) {
  test(`nicknames compared: ${JSON.stringify(a)} ${same ? "is" : "is not"} ${JSON.stringify(b)}`, () => {
    assert.equal(sameNick(a, b), same);
    assert.equal(nickKey(a) === nickKey(b), same);
  });
}

for (const [name, error] of VECTORS.room_names) {
  test(`room name rule: ${JSON.stringify(name)}`, () => {
    assert.equal(roomNameError(name), error);
  });
}

test("a room is a rec with a hash, compared as nicknames are", () => {
  assert.ok(isRoom("#general") && !isRoom("-ALL") && !isRoom("ann") && !isRoom("") && !isRoom(undefined));
  assert.equal(roomKey("#Général"), "général");
  assert.equal(roomKey("GÉNÉRAL"), "général");
  assert.notEqual(roomKey("#lobby"), roomKey("#lobby2"));
});

for (const [rec, text, wire] of VECTORS.chat_frames) {
  test(`a chat is built as the vector says and read back as sent: ${JSON.stringify(text)}`, () => {
    assert.equal(formatFrame(chatFrame(rec, text)), wire);
    const echo = parseFrame(wire.replace("CHAT,", "CHATR,time=t;sender=ann;"));
    assert.equal(readChat(echo, "ann").text, text.replace(/\r\n?/g, "\n"));
  });
}

for (const [id, text, wire] of VECTORS.edit_frames) {
  test(`an edit is built as the vector says and read back as sent: ${JSON.stringify(text)}`, () => {
    assert.equal(formatFrame(editFrame(id, text)), wire);
    const echo = parseFrame(wire.replace("EDIT,", "EDITED,rec=-ALL;sender=ann;edited=1;"));
    assert.deepEqual(readEdited(echo), { id, rec: "-ALL", sender: "ann", edited: 1, text: text.replace(/\r\n?/g, "\n") });
  });
}

for (const c of VECTORS.search_frames) {
  test(`a search is built as the vector says: ${JSON.stringify(c.wire)}`, () => {
    assert.equal(formatFrame(searchFrame(c.query, { rec: c.rec ?? null, before: c.before ?? null, limit: c.limit ?? null })), c.wire);
  });
}

for (const [query, words] of VECTORS.search_words) {
  test(`search words are split as the server splits them: ${JSON.stringify(query)}`, () => {
    assert.deepEqual(searchWords(query), words);
  });
}

for (const [text, query, ranges] of VECTORS.highlights) {
  test(`search results are highlighted as the vector says: ${JSON.stringify(text)} for ${JSON.stringify(query)}`, () => {
    assert.deepEqual(highlight(text, searchWords(query)), ranges);
  });
}

for (const [a, b, same] of VECTORS.conversation_keys) {
  test(`conversations ${JSON.stringify(a)} and ${JSON.stringify(b)} are ${same ? "" : "not "}filed together`, () => {
    assert.equal(conversationKey(a) === conversationKey(b), same);
  });
}

for (const [text, nickname, mentioned] of VECTORS.mentions) {
  test(`mentions: ${JSON.stringify(text)} ${mentioned ? "mentions" : "does not mention"} ${JSON.stringify(nickname)}`, () => {
    assert.equal(mentions(text, nickname), mentioned);
  });
}

// ---- the page's chat session draws the same conclusions ----

/** A ChatClient logged in as the case's nickname; reconnecting (CON sent, unanswered) when the case says so. */
function session(c) {
  FakeSocket.made = [];
  const timers = new FakeTimers();
  const client = new ChatClient({
    url: "ws://host/ws", WebSocketImpl: FakeSocket, timers, backoff: new Backoff({ random: () => 1 }), log: { warn() {} },
  });
  const events = [];
  for (const name of ["status", "login-error", "logged-in", "chat", "users", "update-result", "ended"]) {
    client.on(name, (detail) => events.push([name, detail]));
  }
  const socket = () => FakeSocket.made.at(-1);
  client.login({ nickname: c.nickname, password: "", color: "#FFFFFF" });
  socket().accept();
  if (c.reconnecting) {
    socket().receive("CONVER,time=t,OK");
    socket().drop(1006);
    timers.runAll();
    socket().accept();
  }
  const of = (name) => events.filter(([n]) => n === name).map(([, d]) => d);
  return { client, timers, socket, of };
}

for (const c of ofKind("login")) {
  test(`the page logs in, retries or gives up as the vector says: ${c.name}`, () => {
    const { client, timers, socket, of } = session(c);
    socket().receive(c.frame);
    const expect = c.expect.login;
    const state = client.status.state;
    if (expect.ok) {
      assert.equal(state, "online");
      assert.deepEqual(of("logged-in").at(-1), { role: expect.role ?? "", first: !c.reconnecting });
    } else if (expect.retry) {
      assert.equal(state, "reconnecting");
      assert.equal(timers.pending.size, 1);
    } else {
      assert.equal(state, "offline");
      const { banned, until, reason, ...error } = of("login-error").at(-1);
      assert.deepEqual(error, { text: expect.text });
      // A ban's refusal also says until when and why (for the page's notice).
      assert.deepEqual({ banned, until, reason }, expect.banned
        ? { banned: true, until: expect.until, reason: expect.reason }
        : { banned: undefined, until: undefined, reason: undefined });
      assert.equal(timers.pending.size, 0);
    }
  });
}

for (const c of ofKind("warn")) {
  test(`the page reconnects after a warning only as the vector says: ${c.name}`, () => {
    const { client, timers, socket, of } = session(c);
    socket().receive("CONVER,time=t,OK", c.frame);
    socket().drop(1000, "Chat server closed the connection");
    const expect = c.expect.warn;
    if (expect.reconnect) {
      assert.equal(client.status.state, "reconnecting");
      assert.equal(timers.pending.size, 1);
    } else {
      assert.equal(client.status.state, "offline");
      assert.equal(timers.pending.size, 0);
      const ban = expect.kind === "banned" ? { until: expect.until, reason: expect.reason } : {};
      assert.deepEqual(of("ended"), [{ why: expect.kind, text: expect.text, ...ban }]);
    }
  });
}

for (const c of [...ofKind("chat"), ...ofKind("users"), ...ofKind("own_join"), ...ofKind("update")]) {
  test(`the page shows what the vector says: ${c.name}`, () => {
    const { client, socket, of } = session(c);
    socket().receive("CONVER,time=t,OK");
    if (kind(c) === "update") client.update({ color: "#123456" });
    const expect = c.expect[kind(c)];
    if (kind(c) === "chat" && expect.found) client.searchFor("anything"); // a result goes to the search, not a conversation
    socket().receive(c.frame);
    if (kind(c) === "chat" && expect.found) {
      const message = client.search.results.at(-1);
      assert.deepEqual({ ...message, to_me: message.toMe }, { ...expect, toMe: expect.to_me });
      assert.equal(of("chat").length, 0);
    } else if (kind(c) === "chat") {
      const { message, own, toMe } = of("chat").at(-1);
      assert.deepEqual({ ...message, to_me: toMe, mine: own }, { ...expect, toMe: expect.to_me });
    } else if (kind(c) === "users") {
      assert.deepEqual(of("users").at(-1), expect);
    } else if (kind(c) === "own_join") {
      assert.equal(client.nickname, expect ?? c.nickname);
    } else {
      assert.deepEqual(of("update-result"), expect === null ? [] : [expect]);
      assert.equal(client.credentials.color, expect?.ok ? "#123456" : "#FFFFFF");
    }
  });
}

for (const c of ofKind("user_list")) {
  test(`the page follows list changes as the vector says: ${c.name}`, () => {
    const { socket, of } = session(c);
    socket().receive("CONVER,time=t,OK", ...c.before);
    const sent = socket().sent.length;
    socket().receive(c.frame);
    const expect = c.expect.user_list;
    assert.deepEqual(of("users").at(-1), { online: expect.online, admins: expect.admins });
    assert.deepEqual(socket().sent.slice(sent), expect.resync ? ["USER,,"] : []);
  });
}
