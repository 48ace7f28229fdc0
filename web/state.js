// Small pieces of client state with no DOM and no I/O.

/**
 * The chat message ids shown, kept sorted. "Clients de-duplicate by id":
 * history replayed by REF (on join and after every reconnect) interleaves
 * with live messages, and each id is shown once, in id order.
 */
export class MessageIndex {
  constructor() {
    this.ids = [];
    this.known = new Set();
  }

  get size() {
    return this.ids.length;
  }

  /** null when `id` is known already; else {beforeId}: the next larger id shown, or null. */
  place(id) {
    if (this.known.has(id)) return null;
    let low = 0;
    let high = this.ids.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.ids[mid] < id) low = mid + 1;
      else high = mid;
    }
    this.ids.splice(low, 0, id);
    this.known.add(id);
    return { beforeId: low + 1 < this.ids.length ? this.ids[low + 1] : null };
  }

  clear() {
    this.ids = [];
    this.known.clear();
  }
}

/**
 * Reconnect delays: 0.5 s doubling to 15 s at most, each with "equal
 * jitter" (half fixed, half random) so that many pages dropped at once by a
 * restart do not all come back in the same instant.
 */
export class Backoff {
  constructor({ base = 500, max = 15000, random = Math.random } = {}) {
    this.base = base;
    this.max = max;
    this.random = random;
    this.attempt = 0;
  }

  /** The next delay in milliseconds. */
  next() {
    const cap = Math.min(this.max, this.base * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(cap / 2 + (this.random() * cap) / 2);
  }

  reset() {
    this.attempt = 0;
  }
}

/** Unread messages while the tab is hidden, for the title: `(3) Parley`. */
export class Unread {
  constructor(baseTitle = "Parley") {
    this.baseTitle = baseTitle;
    this.count = 0;
  }

  add() {
    this.count += 1;
  }

  clear() {
    this.count = 0;
  }

  get title() {
    return this.count > 0 ? `(${this.count}) ${this.baseTitle}` : this.baseTitle;
  }
}
