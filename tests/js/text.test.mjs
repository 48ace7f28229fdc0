// Display helpers (web/text.js), small state (web/state.js) and frame readers (web/protocol.js).
import { test } from "node:test";
import assert from "node:assert/strict";

import { displayTime, httpUrl, linkSegments, readableColor } from "../../web/text.js";
import { Backoff, MessageIndex, Unread } from "../../web/state.js";
import { chatBytes, mentions, safeColor } from "../../web/protocol.js";

test("links become segments only for http and https", () => {
  assert.deepEqual(linkSegments("see https://example.com/a?b=1, then http://x.org."), [
    { text: "see " },
    { text: "https://example.com/a?b=1", href: "https://example.com/a?b=1" },
    { text: ", then " },
    { text: "http://x.org", href: "http://x.org/" },
    { text: "." },
  ]);
  assert.deepEqual(linkSegments("javascript:alert(1) data:text/html,x ftp://a"), [
    { text: "javascript:alert(1) data:text/html,x ftp://a" },
  ]);
  assert.deepEqual(linkSegments("(https://en.wikipedia.org/wiki/A_(b))"), [
    { text: "(" },
    { text: "https://en.wikipedia.org/wiki/A_(b)", href: "https://en.wikipedia.org/wiki/A_(b)" },
    { text: ")" },
  ]);
  assert.deepEqual(linkSegments("http://"), [{ text: "http://" }]);
  assert.deepEqual(linkSegments(""), [{ text: "" }]);
  assert.equal(httpUrl("javascript:alert(1)"), null);
  assert.equal(httpUrl("HTTPS://A.B/"), "https://a.b/");
});

test("colors are validated, and made readable on the theme's background", () => {
  assert.equal(safeColor("#ABC"), "#ABC");
  assert.equal(safeColor("#abcdef"), "#abcdef");
  for (const bad of ["red", "#abcd", "#GGG", "#fff;x", "url(x)", "", undefined, "#fff\n"]) {
    assert.equal(safeColor(bad), "#888888", String(bad));
  }
  assert.equal(readableColor("#000000", "#ffffff"), "#000000");
  assert.equal(readableColor("#FFFFFF", "#15171c"), "#ffffff");
  assert.notEqual(readableColor("#FFFFFF", "#ffffff"), "#ffffff");
  assert.notEqual(readableColor("#000", "#15171c"), "#000000");
  assert.equal(readableColor("nonsense", "#ffffff").length, 7);
});

test("times come from ts in local time, else from the server's time", () => {
  const ts = new Date(2026, 0, 2, 9, 5, 7).getTime();
  assert.deepEqual(displayTime(ts, "x", new Date(2026, 0, 2, 23, 0)), {
    label: "09:05", title: "2026-01-02 09:05:07", iso: new Date(ts).toISOString(),
  });
  assert.equal(displayTime(ts, "x", new Date(2026, 0, 3)).label, "2026-01-02 09:05");
  assert.equal(displayTime(null, "2026-01-02 10:11:12").label, "10:11");
  assert.equal(displayTime(null, "").label, "");
});

test("the message index keeps ids sorted and refuses duplicates", () => {
  const index = new MessageIndex();
  assert.deepEqual(index.place(10), { beforeId: null });
  assert.deepEqual(index.place(2), { beforeId: 10 });
  assert.deepEqual(index.place(7), { beforeId: 10 });
  assert.deepEqual(index.place(1), { beforeId: 2 });
  assert.equal(index.place(7), null);
  assert.deepEqual(index.ids, [1, 2, 7, 10]);
});

test("backoff doubles from 0.5 s to 15 s with jitter, and resets", () => {
  const low = new Backoff({ random: () => 0 });
  const high = new Backoff({ random: () => 1 });
  const lows = Array.from({ length: 8 }, () => low.next());
  const highs = Array.from({ length: 8 }, () => high.next());
  assert.deepEqual(highs, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  assert.deepEqual(lows, [250, 500, 1000, 2000, 4000, 7500, 7500, 7500]);
  high.reset();
  assert.equal(high.next(), 500);
});

test("the unread count goes in the title", () => {
  const unread = new Unread("Parley");
  assert.equal(unread.title, "Parley");
  unread.add();
  unread.add();
  assert.equal(unread.title, "(2) Parley");
  unread.clear();
  assert.equal(unread.title, "Parley");
});

test("mentions are whole words, case-insensitive", () => {
  assert.equal(mentions("hi Ann!", "ann"), true);
  assert.equal(mentions("@ann: look", "ann"), true);
  assert.equal(mentions("joanna, annie", "ann"), false);
  assert.equal(mentions("joanna and ann", "ann"), true);
  assert.equal(mentions("anything", ""), false);
});

test("chat bytes count the whole frame in UTF-8", () => {
  assert.equal(chatBytes("-ALL", "hé"), "CHAT,rec=-ALL,".length + 3);
  assert.equal(chatBytes("a;b", ""), "CHAT,rec=a/;b,".length);
});
