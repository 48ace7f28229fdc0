// The files vectors (tests/vectors/files.json) against the page's readers
// (web/protocol.js). The same file is run by tests/test_reading_files.py
// against parley/protocol/reading.py and sizes.py: what one client reads of a
// file message, the other must too, and both write sizes as the server's
// legacy line does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { formatFrame, parseFrame } from "../../web/codec.js";
import { fileChatFrame, humanSize, isFileLink, readFile, readFilesBase, readUpload, uploadFrame } from "../../web/protocol.js";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/files.json", import.meta.url), "utf8"));

/** readFile's answer in the vectors' JSON shape (is_image for isImage). */
function fileAsVector(f) {
  const file = readFile(parseFrame(f));
  if (file === null) return null;
  const { isImage, ...rest } = file;
  return { ...rest, is_image: isImage };
}

for (const c of VECTORS.files) {
  test(`the page reads a message's file as the vector says: ${c.name}`, () => {
    assert.deepEqual(fileAsVector(c.frame), c.expect);
  });
}

for (const c of VECTORS.files.filter((c) => c.expect !== null)) {
  test(`a file's link and thumbnail stay under the page's base path: ${c.name}`, () => {
    const base = "https://chat.example/parley/";
    for (const link of [c.expect.link, c.expect.thumb].filter(Boolean)) {
      assert.ok(new URL(link, base).href.startsWith(base), link);
    }
  });
}

for (const c of VECTORS.uploads) {
  test(`the page reads an UPLOAD grant as the vector says: ${c.name}`, () => {
    assert.deepEqual(readUpload(parseFrame(c.frame)), c.expect);
  });
}

for (const [rec, name, size, wire] of VECTORS.upload_frames) {
  test(`an UPLOAD is built as the vector says: ${JSON.stringify(name)}`, () => {
    assert.equal(formatFrame(uploadFrame(rec, name, size)), wire);
  });
}

for (const [rec, receipt, wire] of VECTORS.file_chat_frames) {
  test(`a file's CHAT is built as the vector says: ${wire}`, () => {
    assert.equal(formatFrame(fileChatFrame(rec, receipt)), wire);
  });
}

for (const [wire, base] of VECTORS.files_base) {
  test(`the page reads the files base URL as the vector says: ${wire}`, () => {
    assert.equal(readFilesBase(parseFrame(wire)), base);
  });
}

for (const [size, text] of VECTORS.sizes) {
  test(`humanSize(${size}) is ${text}`, () => {
    assert.equal(humanSize(size), text);
  });
}

test("a size that is not a whole number of bytes is a local error, not a text", () => {
  for (const bad of [-1, 1.5, NaN, Infinity, "12", 2 ** 53]) assert.throws(() => humanSize(bad), RangeError);
  for (const bad of [-1, 0.5, "3"]) assert.throws(() => uploadFrame("-ALL", "a", bad), RangeError);
});

test("a link is relative only as the vectors' files say", () => {
  assert.ok(isFileLink("files/1/a/b/c.png"));
  for (const bad of ["", "/x", "//x", "\\x", "a:b", "a/../b", "a/%2e%2E/b", "a b", "a?b", "a#b", "é", null, undefined, 5]) {
    assert.equal(isFileLink(bad), false, String(bad));
  }
});
