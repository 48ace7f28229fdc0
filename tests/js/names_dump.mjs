// Print, as one JSON object, what web/names.js makes of every code point, in
// compact form for tests/test_names_js.py to compare with Python:
// - fold: [code, nickKey] for each code point whose key is not itself;
// - scripts: [code, "CODE CODE ..."] for each code point with a script set;
// - first, inner, last: runs [start, outcome] of nicknameError over
//   X+"b", "a"+X+"b" and "ab"+X (outcome 0: allowed, else 1 + the index of
//   its text in ERRORS), a new run wherever the outcome changes;
// - room_first, room_inner: the same of roomNameError over X and "a"+X.
import { nickKey, nicknameError, roomNameError, scriptSet } from "../../web/names.js";
import { BAD_CHARACTER, BAD_LENGTH, MIXED_SCRIPTS, MUST_START_WITH_LETTER, ROOM_NAME_ERROR } from "../../web/texts.js";

const ERRORS = [MUST_START_WITH_LETTER, BAD_LENGTH, BAD_CHARACTER, MIXED_SCRIPTS, ROOM_NAME_ERROR];
const LAST = 0x10ffff;

function runs(nickname, check = nicknameError) {
  const out = [];
  let previous = -1;
  for (let code = 0; code <= LAST; code++) {
    const error = check(nickname(String.fromCodePoint(code)));
    const outcome = error === null ? 0 : 1 + ERRORS.indexOf(error);
    if (outcome !== previous) out.push([code, outcome]);
    previous = outcome;
  }
  return out;
}

const fold = [];
for (let code = 0; code <= LAST; code++) {
  const char = String.fromCodePoint(code);
  const key = nickKey(char);
  if (key !== char) fold.push([code, key]);
}
const scripts = [];
for (let code = 0; code <= LAST; code++) {
  const set = scriptSet(String.fromCodePoint(code));
  if (set.length > 0) scripts.push([code, set.join(" ")]);
}
process.stdout.write(JSON.stringify({
  fold,
  scripts,
  first: runs((x) => `${x}b`),
  inner: runs((x) => `a${x}b`),
  last: runs((x) => `ab${x}`),
  room_first: runs((x) => x, roomNameError),
  room_inner: runs((x) => `a${x}`, roomNameError),
}));
