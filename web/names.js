// Nickname rules and comparison exactly as the server applies them
// (parley/protocol/names.py), with no DOM and no I/O. The Unicode data comes
// from the server's Python (unicode.js, generated), not from the browser, so
// a browser with a newer or older Unicode still agrees with the server;
// tests/vectors/client.json and tests/test_names_js.py hold the two together.
//
// - Nicknames are 2 to 16 characters (code points) and start with a letter.
// - They may hold `, ; = /` (escaped on the wire like every parameter value)
//   but no control, format, private-use, surrogate or unassigned character,
//   no line or paragraph separator, no default-ignorable code point (U+3164
//   and the other invisible fillers), and no space but the plain space,
//   which may not end a nickname.
// - All of that holds for the NFKC form too (U+FDFA is one letter, eighteen
//   after NFKC), and the NFKC form is of one script or a mix UTS #39's
//   "Highly Restrictive" level allows (Latin with Han and Japanese kana, or
//   Bopomofo, or Hangul). Look-alikes of other users' names are refused by
//   the server alone; the page shows its refusal.
// - Two nicknames are one when equal after NFKC and full case folding
//   (Python's `unicodedata.normalize("NFKC", s).casefold()`).

import * as T from "./texts.js";
import { CASEFOLD, DECIMALS, FORBIDDEN, LETTERS, MARKS, SCRIPT_SETS, SCRIPTS } from "./unicode.js";

export const MIN_LENGTH = 2;
export const MAX_LENGTH = 16;

/**
 * Runs of code points from unicode.js's base-36 numbers: each run is a gap
 * after the previous run, a length, and (when `withValue`) an index into
 * `values`. Returns {starts, ends, values} (ends exclusive).
 */
function decodeRuns(encoded, withValue = false, valueList = []) {
  const numbers = encoded.split(" ").map((n) => parseInt(n, 36));
  const step = withValue ? 3 : 2;
  const starts = [];
  const ends = [];
  const values = [];
  let end = 0;
  for (let i = 0; i < numbers.length; i += step) {
    const start = end + numbers[i];
    end = start + numbers[i + 1];
    starts.push(start);
    ends.push(end);
    if (withValue) values.push(valueList[numbers[i + 2]]);
  }
  return { starts, ends, values };
}

/** The index of the run holding code point `code`, or -1. */
function runOf({ starts, ends }, code) {
  let low = 0;
  let high = starts.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (starts[mid] <= code) low = mid + 1;
    else high = mid;
  }
  return low > 0 && code < ends[low - 1] ? low - 1 : -1;
}

const letters = decodeRuns(LETTERS);
const forbidden = decodeRuns(FORBIDDEN);
const decimals = decodeRuns(DECIMALS);
const marks = decodeRuns(MARKS);
const scripts = decodeRuns(SCRIPTS, true, SCRIPT_SETS);
// UTS #39 section 5.2, Highly Restrictive: besides one script, these combinations.
const COVERS = [
  ["LATN", "HANI", "HIRA", "KANA", "JPAN"],
  ["LATN", "HANI", "BOPO", "HANB"],
  ["LATN", "HANI", "HANG", "KORE"],
];

/** The UTS #39 augmented script set of `char` (ISO 15924 codes); [] for Common and Inherited (any script). */
export function scriptSet(char) {
  const run = runOf(scripts, char.codePointAt(0));
  return run < 0 ? [] : scripts.values[run];
}

/** True when `text` is of one script or a mix UTS #39 "Highly Restrictive" allows. */
export function isHighlyRestrictive(text) {
  const sets = [...text].map(scriptSet).filter((set) => set.length > 0);
  if (sets.length === 0) return true;
  if (sets[0].some((code) => sets.every((set) => set.includes(code)))) return true;
  return COVERS.some((cover) => sets.every((set) => set.some((code) => cover.includes(code))));
}

/** True when `char` (one code point) is a letter as Python's str.isalpha says. */
export function isLetter(char) {
  return runOf(letters, char.codePointAt(0)) >= 0;
}

/** True when no nickname may hold `char` (one code point). */
export function isForbidden(char) {
  return runOf(forbidden, char.codePointAt(0)) >= 0;
}

/** The form under which the server compares nicknames: NFKC, then full case folding. */
export function nickKey(nickname) {
  let key = "";
  // One code point at a time: toLowerCase of a whole string would apply
  // context rules (a final Σ becomes ς) that case folding does not have.
  for (const char of String(nickname).normalize("NFKC")) {
    key += CASEFOLD.get(char.codePointAt(0)) ?? char.toLowerCase();
  }
  return key;
}

/** True when the server takes `a` and `b` for one nickname. */
export function sameNick(a, b) {
  return typeof a === "string" && typeof b === "string" && nickKey(a) === nickKey(b);
}

/** The server's error text for a nickname it would refuse, or null: the rules on the name, then on its NFKC form, then scripts. */
export function nicknameError(nickname) {
  const normal = String(nickname).normalize("NFKC");
  const error = formError([...String(nickname)]) ?? formError([...normal]);
  if (error === null && !isHighlyRestrictive(normal)) return T.MIXED_SCRIPTS;
  return error;
}

/** The first-letter, length and character rules for one form of a nickname (its code points), in that order. */
function formError(chars) {
  if (chars.length === 0 || !isLetter(chars[0])) return T.MUST_START_WITH_LETTER;
  if (chars.length < MIN_LENGTH || chars.length > MAX_LENGTH) return T.BAD_LENGTH;
  // Every other space character is forbidden, so "no surrounding whitespace"
  // comes down to "not ending in a plain space" (a letter starts it).
  if (chars.at(-1) === " " || chars.some(isForbidden)) return T.BAD_CHARACTER;
  return null;
}

/** True when `char` (one code point) is a decimal digit (Nd), as Python's str.isdecimal says. */
export function isDecimal(char) {
  return runOf(decimals, char.codePointAt(0)) >= 0;
}

/** True when `char` (one code point) is a mark (general category M*). */
export function isMark(char) {
  return runOf(marks, char.codePointAt(0)) >= 0;
}

// ---- room names (parley/protocol/names.py) ----
// "Room names: 1 to 32 characters; letters (any script, Unicode category L*),
// digits (Nd), and - _ .; marks (M*) allowed after the first character; the
// first character a letter or digit. Compared as nicknames are. lobby is
// reserved. A name is always written with its # on the wire." As for
// nicknames, the rules hold on the NFKC form too, and no default-ignorable
// code point is allowed (U+3164 is an invisible letter).

export const ROOM_PREFIX = "#";
export const ROOM_MAX_LENGTH = 32;
const RESERVED_ROOMS = new Set(["lobby"]); // as roomKey
const ROOM_PUNCTUATION = new Set(["-", "_", "."]);

/** True when `rec` (a rec= or room= value) names a room: it starts with `#`. */
export function isRoom(rec) {
  return typeof rec === "string" && rec.startsWith(ROOM_PREFIX);
}

/** The form under which room names are compared: nickKey, without the `#`. */
export function roomKey(name) {
  const text = String(name);
  return nickKey(text.startsWith(ROOM_PREFIX) ? text.slice(1) : text);
}

/** The server's error text for a room name (without its `#`) no one may create, or null; `lobby` is reserved. */
export function roomNameError(name) {
  const text = String(name);
  const ok = roomFormOk([...text]) && roomFormOk([...text.normalize("NFKC")]) && !RESERVED_ROOMS.has(roomKey(text));
  return ok ? null : T.ROOM_NAME_ERROR;
}

/** The length and character rules for one form of a room name (its code points). */
function roomFormOk(chars) {
  if (chars.length < 1 || chars.length > ROOM_MAX_LENGTH) return false;
  const wordy = (char) => (isLetter(char) || isDecimal(char)) && !isForbidden(char);
  if (!wordy(chars[0])) return false;
  return chars.slice(1).every((char) => ROOM_PUNCTUATION.has(char) || ((wordy(char) || isMark(char)) && !isForbidden(char)));
}

// ---- mentions (parley/protocol/names.py) ----

/**
 * True when `text` mentions `nickname`: "its content (line breaks as spaces)
 * contains NICK, or @ NICK, compared as nicknames are (NFKC + casefold), not
 * preceded and not followed by a letter, digit, mark or _". A `@` is
 * neither, so `@bob` is found as `bob` is; `bob's` mentions bob, `bobby` and
 * `_bob` do not. The search runs over the folded text.
 */
export function mentions(text, nickname) {
  if (typeof text !== "string" || typeof nickname !== "string") return false;
  const needle = nickKey(nickname);
  if (!needle) return false;
  const haystack = nickKey(text);
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) {
    if (!inWord(codePointBefore(haystack, at)) && !inWord(codePointFrom(haystack, at + needle.length))) return true;
  }
  return false;
}

/** True for a letter (L*), decimal digit (Nd), mark (M*) or `_`: what a mention may not touch. */
function inWord(char) {
  return char !== null && (char === "_" || isLetter(char) || isDecimal(char) || isMark(char));
}

/** The code point of `text` that ends at UTF-16 index `at`, or null at the start. */
function codePointBefore(text, at) {
  if (at <= 0) return null;
  const unit = text.charCodeAt(at - 1);
  const pair = unit >= 0xdc00 && unit <= 0xdfff && at >= 2 && text.charCodeAt(at - 2) >= 0xd800 && text.charCodeAt(at - 2) <= 0xdbff;
  return pair ? text.slice(at - 2, at) : text[at - 1];
}

/** The code point of `text` that starts at UTF-16 index `at`, or null at the end. */
function codePointFrom(text, at) {
  return at < text.length ? String.fromCodePoint(text.codePointAt(at)) : null;
}

// ---- search words and highlighting (parley/protocol/words.py) ----
// SEARCH: "words of QUERY (runs of letters/digits; everything else, FTS5
// syntax included, separates words) must all occur, each as a word or a
// word's beginning, case- and accent-insensitively."

/** True for a letter (L*), a decimal digit (Nd) or a mark (M*). */
function wordChar(char) {
  return isLetter(char) || isDecimal(char) || isMark(char);
}

/** True for a word character, or one whose NFKC form is all word characters (`①` is `1`). */
function inSearchWord(char) {
  if (wordChar(char)) return true;
  const normal = char.normalize("NFKC");
  return normal !== char && normal !== "" && [...normal].every(wordChar);
}

/**
 * The words the server searches for in `query`: NFKC with full case folding
 * (nickKey), split on every code point that is not a letter, decimal digit
 * or mark, so nothing of FTS5's syntax (`"`, `*`, `-`, `^`, `:`, `(`)
 * survives. [] when there are none.
 */
export function searchWords(query) {
  const words = [];
  let word = "";
  for (const char of nickKey(String(query))) {
    if (wordChar(char)) {
      word += char;
    } else if (word) {
      words.push(word);
      word = "";
    }
  }
  if (word) words.push(word);
  return words;
}

const folds = new Map();

/** One code point compared for highlighting: compatibility-decomposed, case folded, its marks dropped. */
function fold(char) {
  let folded = folds.get(char);
  if (folded === undefined) {
    let lower = "";
    for (const c of char.normalize("NFKD")) lower += CASEFOLD.get(c.codePointAt(0)) ?? c.toLowerCase();
    folded = [...lower.normalize("NFKD")].filter((c) => !isMark(c)).join("");
    if (folds.size < 4096) folds.set(char, folded);
  }
  return folded;
}

/**
 * The [start, end] code point ranges of `text` to show as matches of
 * `words` (from searchWords), in order: each word of the text whose
 * beginning is a query word, compared with case folding and without marks
 * (accents). A range covers the matching beginning (and the marks on its
 * last letter); the longest query word that matches wins. Code points, not
 * UTF-16 units: slice `[...text]` with them.
 */
export function highlight(text, words) {
  const needles = [...new Set(words.map((word) => [...word].map(fold).join("")))].filter(Boolean);
  if (needles.length === 0) return [];
  const chars = [...String(text)];
  const ranges = [];
  let at = 0;
  while (at < chars.length) {
    if (!inSearchWord(chars[at])) {
      at += 1;
      continue;
    }
    let end = at;
    while (end < chars.length && inSearchWord(chars[end])) end += 1;
    const matched = matchEnd(chars, at, end, needles);
    if (matched > at) ranges.push([at, matched]);
    at = end;
  }
  return ranges;
}

/** Where the longest needle that begins the word chars[start..end) ends (marks after it included), or `start`. */
function matchEnd(chars, start, end, needles) {
  let folded = "";
  let best = start;
  for (let at = start; at < end; at++) {
    const before = folded.length;
    folded += fold(chars[at]);
    if (needles.some((needle) => needle.length > before && folded.startsWith(needle))) best = at + 1;
    if (!needles.some((needle) => needle.length > folded.length && needle.startsWith(folded))) break;
  }
  while (best > start && best < end && isMark(chars[best])) best += 1;
  return best;
}
