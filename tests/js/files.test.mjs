// The page's files (web/files.js's plain values, web/client.js's UPLOAD answers) with no DOM.
import { test } from "node:test";
import assert from "node:assert/strict";

import { ChatClient } from "../../web/client.js";
import { announcedName, fileHref, fitBox, httpError, pasteName, pastedName, typeWords, uploadUrl } from "../../web/files.js";
import { Backoff } from "../../web/state.js";
import { FakeSocket, FakeTimers } from "./fakes.mjs";

const PAGE = "https://chat.example/parley/?x=1#top";

test("a pasted image is named for the local time it was pasted", () => {
  const at = new Date(2026, 10, 24, 15, 30, 59);
  assert.equal(pastedName("image/png", at), "pasted-2026-11-24-1530.png");
  assert.equal(pastedName("image/jpeg", new Date(2026, 0, 2, 3, 4)), "pasted-2026-01-02-0304.jpg");
  assert.equal(pasteName({ name: "image.png", type: "image/png" }, at), "pasted-2026-11-24-1530.png");
  assert.equal(pasteName({ name: "", type: "image/webp" }, at), "pasted-2026-11-24-1530.webp");
  // A file copied in a file manager keeps its name; so does anything not an image.
  assert.equal(pasteName({ name: "plan.png", type: "image/png" }, at), "plan.png");
  assert.equal(pasteName({ name: "image.txt", type: "text/plain" }, at), "image.txt");
});

test("a name is asked with no line breaks and at most 255 characters, its extension kept", () => {
  assert.equal(announcedName("two\r\nlines.txt"), "two lines.txt");
  assert.equal(announcedName("x".repeat(296) + ".txt"), "x".repeat(251) + ".txt");
  assert.equal(announcedName("y".repeat(300)), "y".repeat(255));
  assert.equal(announcedName("z".repeat(100) + "." + "e".repeat(200)).length, 255); // no real extension: cut
  const emoji = announcedName("😀".repeat(300) + ".png"); // cut between characters, never inside one
  assert.equal(Array.from(emoji).length, 255);
  assert.ok(emoji.endsWith("😀.png") && emoji.isWellFormed());
  assert.equal(announcedName("a".repeat(255)), "a".repeat(255));
});

test("a thumbnail's box fits 320 x 320 and never grows the image", () => {
  assert.deepEqual(fitBox(640, 480), { width: 320, height: 240 });
  assert.deepEqual(fitBox(200, 900), { width: 71, height: 320 });
  assert.deepEqual(fitBox(100, 50), { width: 100, height: 50 });
  assert.deepEqual(fitBox(100000, 1), { width: 320, height: 1 });
});

test("the bytes go to files/upload beside the page, the ticket encoded", () => {
  assert.equal(uploadUrl("a.b+c/=", PAGE), "https://chat.example/parley/files/upload?ticket=a.b%2Bc%2F%3D");
  assert.equal(uploadUrl("t", "http://127.0.0.1:8080/"), "http://127.0.0.1:8080/files/upload?ticket=t");
});

test("a file link is used only on the page's own origin", () => {
  assert.equal(fileHref("files/1/ab/sig/a%20b.png", PAGE), "https://chat.example/parley/files/1/ab/sig/a%20b.png");
  assert.equal(fileHref("files/1/ab/sig/a.png", PAGE, true), "https://chat.example/parley/files/1/ab/sig/a.png?thumb=1");
  assert.equal(fileHref("//evil.example/x", PAGE), null);
  assert.equal(fileHref("javascript:alert(1)", PAGE), null);
});

test("an HTTP error says the server's JSON error, else the status", () => {
  assert.equal(httpError(413, '{"error": "The file is larger than announced."}'), "The file is larger than announced.");
  assert.equal(httpError(502, "<html>Bad gateway</html>"), "The upload failed (HTTP 502).");
  assert.equal(httpError(0, ""), "The upload failed: the connection was lost.");
  assert.equal(typeWords("application/pdf"), "PDF document");
  assert.equal(typeWords("application/octet-stream"), "File");
});

function loggedIn() {
  FakeSocket.made = [];
  const client = new ChatClient({
    url: "ws://host/ws", WebSocketImpl: FakeSocket, timers: new FakeTimers(), backoff: new Backoff({ random: () => 1 }),
    log: { warn: () => {} },
  });
  const events = [];
  for (const name of ["upload", "notice"]) client.on(name, (detail) => events.push([name, detail]));
  client.login({ nickname: "ann", password: "", color: "#123" });
  const socket = FakeSocket.made.at(-1);
  socket.accept();
  socket.receive("CONVER,time=t;role=member,OK");
  events.length = 0;
  return { client, socket, events };
}

test("UPLOAD answers reach the page in the order asked: a grant, then a refusal (not a log line)", () => {
  const { client, socket, events } = loggedIn();
  assert.equal(client.askUpload("#tea", "a;b.png", 12), true);
  assert.equal(client.askUpload("#tea", "big.zip", 99999999), true);
  assert.deepEqual(socket.sent.slice(-2), ["UPLOAD,rec=#tea;name=a/;b.png;size=12,", "UPLOAD,rec=#tea;name=big.zip;size=99999999,"]);
  socket.receive("UPLOAD,time=t;rec=#tea;name=a/;b.png;size=12;ticket=T1;url=,");
  socket.receive("ERR,time=t,The file is too large: 100 MB; files may be up to 10 MB.");
  assert.deepEqual(events, [
    ["upload", { ok: true, grant: { rec: "#tea", name: "a;b.png", size: 12, ticket: "T1", url: "" } }],
    ["upload", { ok: false, text: "The file is too large: 100 MB; files may be up to 10 MB." }],
  ]);
  // With no UPLOAD waiting, an ERR is a line in the log again.
  socket.receive("ERR,time=t,No such user.");
  assert.equal(events.at(-1)[0], "notice");
});

test("a file message carries its file; any other message none", () => {
  const { client, socket } = loggedIn();
  const chats = [];
  client.on("chat", ({ message }) => chats.push(message));
  socket.receive("CHATR,time=t;sender=bob;rec=-ALL;color=#123;id=5;ts=900;file=7;fname=a.png;fsize=1200;ftype=image/png;" +
    "flink=files/7/ab/sig/a.png;fw=640;fh=480,[file] a.png (1.2 KB) http://h/files/7/ab/sig/a.png");
  socket.receive("CHATR,time=t;sender=bob;rec=-ALL;color=#123;id=6;ts=901,hello");
  assert.equal(chats[0].file.name, "a.png");
  assert.equal(chats[0].file.width, 640);
  assert.equal("file" in chats[1], false);
});
