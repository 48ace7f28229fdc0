// The requests a rooms=1 page sends (web/protocol.js), as wire text.
import { test } from "node:test";
import assert from "node:assert/strict";

import { formatFrame } from "../../web/codec.js";
import {
  con, createRoom, history, inviteMember, joinRoom, listMembers, listRooms, markRead, partRoom, removeMember, setOperator,
  setTopic,
} from "../../web/protocol.js";

const wire = (f) => formatFrame(f);

test("CON keeps today's frame unless rooms, sessions or a token are asked for", () => {
  const who = { nickname: "ann", password: "pw", color: "#FFF" };
  assert.equal(wire(con(who)), "CON,nickname=ann;password=pw;color=#FFF;lists=changes,");
  assert.equal(wire(con({ ...who, rooms: true, session: true, remember: true })),
    "CON,nickname=ann;password=pw;color=#FFF;lists=changes;rooms=1;session=1;remember=1,");
  assert.equal(wire(con({ ...who, password: "", rooms: true, session: true, token: "a=b;c" })),
    "CON,nickname=ann;password=;color=#FFF;lists=changes;rooms=1;session=1;token=a/=b/;c,");
  // remember=1 goes only with session=1
  assert.equal(wire(con({ ...who, rooms: true, remember: true })), "CON,nickname=ann;password=pw;color=#FFF;lists=changes;rooms=1,");
});

test("room requests are written as the protocol says", () => {
  assert.equal(wire(createRoom("#general", "Welcome, all")), "CREATE,room=#general,Welcome, all");
  assert.equal(wire(createRoom("#team", "", true)), "CREATE,room=#team;private=1,");
  assert.equal(wire(joinRoom("#general")), "JOIN,room=#general,");
  assert.equal(wire(partRoom("#general")), "PART,room=#general,");
  assert.equal(wire(setTopic("#general", "a; b")), "TOPIC,room=#general,a; b");
  assert.equal(wire(inviteMember("#team", "foo,bar")), "INVITE,room=#team;user=foo/,bar,");
  assert.equal(wire(removeMember("#team", "bob")), "REMOVE,room=#team;user=bob,");
  assert.equal(wire(removeMember("#team", "bob", "spam")), "REMOVE,room=#team;user=bob,spam");
  assert.equal(wire(setOperator("#team", "bob", true)), "OP,room=#team;user=bob;op=1,");
  assert.equal(wire(setOperator("#team", "bob", false)), "OP,room=#team;user=bob;op=0,");
  assert.equal(wire(listRooms()), "ROOMS,,");
  assert.equal(wire(listMembers("#team")), "MEMBERS,room=#team,");
  assert.equal(wire(markRead("bob", 42)), "READ,rec=bob;id=42,");
});

test("HISTORY names only the bounds it is given", () => {
  assert.equal(wire(history("#general")), "HISTORY,rec=#general,");
  assert.equal(wire(history("-ALL", { before: 120 })), "HISTORY,rec=-ALL;before=120,");
  assert.equal(wire(history("bob", { before: 7, limit: 200 })), "HISTORY,rec=bob;before=7;limit=200,");
});
