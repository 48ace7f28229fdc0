// A fake WebSocket and fake timers for driving the page's ChatClient (web/client.js) in Node.
import assert from "node:assert/strict";

export class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.made.push(this);
  }

  send(text) {
    assert.equal(this.readyState, 1, "sent on a socket that is not open");
    this.sent.push(text);
  }

  close(code = 1000, reason = "") {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  accept() {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(...texts) {
    for (const text of texts) this.onmessage?.({ data: text });
  }

  drop(code, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

export class FakeTimers {
  constructor() {
    this.pending = new Map();
    this.next = 1;
  }

  setTimeout(fn, ms) {
    this.pending.set(this.next, { fn, ms });
    return this.next++;
  }

  clearTimeout(id) {
    this.pending.delete(id);
  }

  /** Run every pending timer; return their delays. */
  runAll() {
    const delays = [];
    for (const [id, { fn, ms }] of [...this.pending]) {
      this.pending.delete(id);
      delays.push(ms);
      fn();
    }
    return delays;
  }
}
