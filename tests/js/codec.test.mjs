// The JavaScript codec against the shared vectors, and its linear-time parse.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  ProtocolError, escape, formatFrame, frame, parseFrame, unescape,
} from "../../web/codec.js";

const VECTORS = JSON.parse(
  readFileSync(new URL("../vectors/frames.json", import.meta.url), "utf8"),
);

function parsed(text) {
  const { reason, params, content } = parseFrame(text);
  return { reason, params: [...params], content };
}

function codeOf(fn) {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `not a ProtocolError: ${error}`);
    return error.code;
  }
  return "no error";
}

for (const c of VECTORS.frames) {
  test(`vector frame parses and formats: ${c.name}`, () => {
    assert.deepEqual(parsed(c.text), { reason: c.reason, params: c.params, content: c.content });
    const canonical = c.canonical ?? c.text;
    assert.equal(formatFrame(parseFrame(c.text)), canonical);
    assert.deepEqual(parsed(canonical), parsed(c.text));
  });
}

for (const c of VECTORS.malformed) {
  test(`vector malformed frame is refused with its code: ${c.name}`, () => {
    assert.equal(codeOf(() => parseFrame(c.text)), c.code);
  });
}

for (const c of VECTORS.escape) {
  test(`vector escape round-trips: ${JSON.stringify(c.raw)}`, () => {
    assert.equal(escape(c.raw), c.escaped);
    assert.equal(unescape(c.escaped), c.raw);
  });
}

for (const c of VECTORS.unescape) {
  test(`vector unescape: ${JSON.stringify(c.escaped)}`, () => {
    assert.equal(unescape(c.escaped), c.raw);
  });
}

test("unescape of a lone final slash is a dangling escape", () => {
  assert.equal(codeOf(() => unescape("abc/")), "dangling-escape");
  assert.equal(unescape("abc//"), "abc/");
});

test("errors come in the Python codec's order", () => {
  // Within one item: missing '=' before the dangling escape.
  assert.equal(codeOf(() => parseFrame("X,abc/")), "param-without-equals");
  // The dangling escape is found before the empty name and the duplicate.
  assert.equal(codeOf(() => parseFrame("X,=v/")), "dangling-escape");
  assert.equal(codeOf(() => parseFrame("X,a=1;a=2/")), "dangling-escape");
  // Items left to right.
  assert.equal(codeOf(() => parseFrame("X,a=1;a=2;c,")), "duplicate-param");
  assert.equal(codeOf(() => parseFrame("X,c;a=1;a=2,")), "param-without-equals");
  // The reason is checked before line breaks; no comma before everything.
  assert.equal(codeOf(() => parseFrame("C\nX,,")), "bad-reason");
  assert.equal(codeOf(() => parseFrame("CHAT\n")), "no-separator");
  assert.equal(codeOf(() => parseFrame("X,a=1\n,")), "line-break");
  // An escaped '=' does not separate a name from its value.
  assert.equal(codeOf(() => parseFrame("X,/=v,")), "param-without-equals");
});

test("a reason of 32 characters is accepted, 33 refused", () => {
  assert.equal(parseFrame(`A${"b".repeat(31)},,`).reason.length, 32);
  assert.equal(codeOf(() => parseFrame(`A${"b".repeat(32)},,`)), "bad-reason");
  assert.equal(codeOf(() => parseFrame("Ä,,")), "bad-reason");
});

test("integer-like and prototype names keep their order and stay data", () => {
  const f = parseFrame("USER,time=t;num=2;admin=0;1=bob;0=ann;__proto__=x;constructor=y,");
  assert.deepEqual([...f.params.keys()], ["time", "num", "admin", "1", "0", "__proto__", "constructor"]);
  assert.equal(f.params.get("__proto__"), "x");
});

test("an escape before a surrogate pair keeps the whole character", () => {
  assert.deepEqual(parsed("X,a=/😀b,c"), { reason: "X", params: [["a", "😀b"]], content: "c" });
});

test("format escapes names and values, never content", () => {
  const text = formatFrame(frame("CON", { nickname: "a,b;c=d/e", password: "", color: "#FFF" }));
  assert.equal(text, "CON,nickname=a/,b/;c/=d//e;password=;color=#FFF,");
  assert.equal(formatFrame(frame("CHAT", [["rec", "-ALL"]], "a,b;/=")), "CHAT,rec=-ALL,a,b;/=");
  assert.equal(formatFrame({ reason: "REF" }), "REF,,");
  assert.equal(formatFrame({ reason: "X", params: new Map([["0", "a"], ["k", "b"]]) }), "X,0=a;k=b,");
});

test("format refuses what the protocol cannot carry", () => {
  assert.equal(codeOf(() => formatFrame(frame("CHAT", { rec: "-ALL" }, "a\nb"))), "line-break");
  assert.equal(codeOf(() => formatFrame(frame("CHAT", { rec: "a\rb" }))), "line-break");
  assert.equal(codeOf(() => formatFrame(frame("C HAT"))), "bad-reason");
  assert.equal(codeOf(() => formatFrame(frame("X", [["", "v"]]))), "empty-param-name");
  assert.equal(codeOf(() => formatFrame({ reason: "X", params: [["a", "1"], ["a", "2"]] })), "duplicate-param");
});

test("parse and format round-trip arbitrary values", () => {
  const alphabet = ["a", "/", ",", ";", "=", " ", "é", "😀"];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let n = 0; n < 500; n++) {
    const value = Array.from({ length: next() % 12 }, () => alphabet[next() % alphabet.length]).join("");
    const name = `k${value}`;
    const content = value.split("").reverse().join("");
    const f = parseFrame(formatFrame(frame("X", [[name, value], ["v", value]], content)));
    assert.deepEqual([...f.params], [[name, value], ["v", value]]);
    assert.equal(f.content, content);
  }
});

function timeParse(text) {
  const start = performance.now();
  try {
    parseFrame(text);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
  }
  return performance.now() - start;
}

test("parse is linear on adversarial input", () => {
  const size = 1 << 20;
  const cases = [
    `X,a=${"/".repeat(size)},c`,
    `X,a=${"/".repeat(size - 1)},c`,
    `X,${"/".repeat(size)}`,
    `X,a=${"/;".repeat(size / 2)}`,
    `X,${"/,".repeat(size / 2)}`,
    `X,${Array.from({ length: size / 8 }, (_, i) => `k${i}=v`).join(";")},`,
    `X,${";".repeat(size)},`,
    `X,a=${"=".repeat(size)},`,
  ];
  for (const text of cases) {
    // A quadratic parse of 1 MiB takes minutes; a linear one milliseconds.
    assert.ok(timeParse(text) < 2000, `slow on ${text.slice(0, 20)}...`);
  }
});
