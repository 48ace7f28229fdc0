// The Parley frame codec: `reason,parameters,content`, with no DOM and no I/O.
//
// The same rules as the Python codec (parley/protocol/frames.py), checked by
// the same vectors (tests/vectors/frames.json):
// - parameters are `name=value` pairs separated by `;`; in names and values
//   `, ; = /` are escaped with a leading `/`, and "an escape character
//   followed by a regular character will have no affect" (`/x` reads `x`);
// - a separator counts only when preceded by an even number of `/`;
// - "anything after the second non-escaped comma will be read as is, as the
//   content": content is never escaped;
// - empty items (`a=1;;b=2;`) are ignored; the first unescaped `=` of an item
//   separates name from value.
// Parameters are kept in a Map: a plain object would reorder integer-like
// keys (`0`, `1` of a USER list) and treat `__proto__` specially.

const REASON_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const SPECIAL_RE = /[,;=/]/g;
const LINE_BREAK_RE = /[\r\n]/;
const SLASH = 0x2f;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;

/** A frame that cannot be parsed or built. `code` names the kind, as in the vectors. */
export class ProtocolError extends Error {
  constructor(message, code) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
}

/** Return `text` with every `, ; = /` preceded by `/`. */
export function escape(text) {
  return String(text).replace(SPECIAL_RE, "/$&");
}

/** Return `text` with each escape removed; throws dangling-escape for a lone final `/`. */
export function unescape(text) {
  if (!text.includes("/")) return text;
  let out = "";
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== SLASH) continue;
    if (i + 1 >= text.length) {
      throw new ProtocolError("dangling escape at end of parameter", "dangling-escape");
    }
    out += text.slice(start, i);
    start = i + 1; // keep the escaped character, whatever it is
    i += 1;
  }
  return out + text.slice(start);
}

/** True when `reason` is a valid frame reason. */
export function isReason(reason) {
  return typeof reason === "string" && REASON_RE.test(reason);
}

/**
 * Parse one frame's text (no line terminator) into {reason, params: Map, content}.
 * `REASON,params` with no second comma has empty content.
 * Throws ProtocolError for anything else that is not a frame. Linear time.
 */
export function parseFrame(text) {
  const comma = text.indexOf(",");
  if (comma < 0) throw new ProtocolError("frame has no ',' separator", "no-separator");
  const reason = text.slice(0, comma);
  if (!REASON_RE.test(reason)) throw new ProtocolError("invalid reason", "bad-reason");
  if (LINE_BREAK_RE.test(text)) throw new ProtocolError("frame contains a line break", "line-break");
  const { params, end } = parseParams(text, comma + 1);
  const content = end < text.length ? text.slice(end + 1) : "";
  return { reason, params, content };
}

// One pass over the parameter section from `start` to the first unescaped
// comma (returned as `end`, or text.length). Errors come in the Python
// codec's order: items left to right; within an item, missing `=`, then a
// dangling escape, then an empty name, then a duplicate.
function parseParams(text, start) {
  const params = new Map();
  const item = new ItemReader();
  let i = start;
  let itemStart = start;
  let chunkStart = start;
  for (; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === SLASH) {
      item.add(text.slice(chunkStart, i));
      if (i + 1 >= text.length) item.dangling = true;
      chunkStart = i + 1; // the escaped character is kept as is
      i += 1;
    } else if (code === COMMA) {
      break;
    } else if (code === SEMICOLON) {
      item.add(text.slice(chunkStart, i));
      if (i > itemStart) item.finish(params);
      item.reset();
      itemStart = chunkStart = i + 1;
    } else if (code === EQUALS && item.name === null) {
      item.add(text.slice(chunkStart, i));
      item.name = item.take();
      chunkStart = i + 1;
    }
  }
  const end = Math.min(i, text.length);
  item.add(text.slice(chunkStart, end));
  if (end > itemStart) item.finish(params);
  return { params, end };
}

class ItemReader {
  constructor() {
    this.reset();
  }

  reset() {
    this.name = null;
    this.text = "";
    this.dangling = false;
  }

  add(chunk) {
    this.text += chunk;
  }

  take() {
    const text = this.text;
    this.text = "";
    return text;
  }

  finish(params) {
    if (this.name === null) {
      throw new ProtocolError("parameter without '='", "param-without-equals");
    }
    if (this.dangling) {
      throw new ProtocolError("dangling escape at end of parameter", "dangling-escape");
    }
    if (this.name === "") throw new ProtocolError("parameter with an empty name", "empty-param-name");
    if (params.has(this.name)) throw new ProtocolError("duplicate parameter", "duplicate-param");
    params.set(this.name, this.text);
  }
}

function paramEntries(params) {
  if (params === undefined || params === null) return [];
  if (params instanceof Map || Array.isArray(params)) return [...params];
  return Object.entries(params);
}

/**
 * Return the wire text (no line terminator) of {reason, params, content}.
 * `params` may be a Map, an array of [name, value] pairs or a plain object.
 * Throws ProtocolError for a frame the protocol cannot carry.
 */
export function formatFrame({ reason, params, content = "" }) {
  if (!isReason(reason)) throw new ProtocolError("invalid reason", "bad-reason");
  const items = [];
  const seen = new Set();
  for (const [name, value] of paramEntries(params)) {
    if (typeof name !== "string" || name === "") {
      throw new ProtocolError("parameter with an empty name", "empty-param-name");
    }
    if (seen.has(name)) throw new ProtocolError("duplicate parameter", "duplicate-param");
    seen.add(name);
    const text = String(value);
    if (LINE_BREAK_RE.test(name) || LINE_BREAK_RE.test(text)) {
      throw new ProtocolError("line break in a parameter", "line-break");
    }
    items.push(`${escape(name)}=${escape(text)}`);
  }
  const body = String(content);
  if (LINE_BREAK_RE.test(body)) throw new ProtocolError("line break in the content", "line-break");
  return `${reason},${items.join(";")},${body}`;
}

/** Build a frame value: `frame("CHAT", {rec: "-ALL"}, "hi")`. */
export function frame(reason, params = [], content = "") {
  return { reason, params: new Map(paramEntries(params)), content };
}
