// Multi-line messages (web/text.js) against the shared vectors tests/vectors/lines.json,
// which tests/test_lines.py runs against parley/protocol/lines.py.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { MAX_LINE_BREAKS, checkLines, decodeLines, encodeLines } from "../../web/text.js";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/lines.json", import.meta.url), "utf8"));
const short = (value) => JSON.stringify(value).slice(0, 40);

for (const [text, content, lines] of VECTORS.encode) {
  test(`encodeLines as the vector says: ${short(text)}`, () => {
    assert.deepEqual(encodeLines(text), { content, lines });
    const expected = text.replace(/\r\n?/g, "\n");
    if (expected.split("\n").length - 1 <= MAX_LINE_BREAKS) assert.equal(decodeLines(content, lines), expected);
  });
}

for (const [content, lines, text] of VECTORS.decode) {
  test(`decodeLines as the vector says: ${short(content)} ${short(lines)}`, () => {
    assert.equal(decodeLines(content, lines), text);
    assert.equal(checkLines(content, lines), true);
  });
}

for (const [content, lines, why] of VECTORS.bad) {
  test(`a bad lines parameter is refused: ${why} ${short(lines)}`, () => {
    assert.throws(() => decodeLines(content, lines), RangeError);
    assert.equal(checkLines(content, lines), false);
  });
}

test("a content without lines is shown as sent (null or a missing parameter)", () => {
  assert.equal(decodeLines("a b", null), "a b");
  assert.equal(decodeLines("a b", undefined), "a b");
  assert.equal(checkLines("a b", undefined), true);
});
