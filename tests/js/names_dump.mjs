// Print, as one JSON object, what web/names.js makes of every code point, in
// compact form for tests/test_names_js.py to compare with Python:
// - fold: [code, nickKey] for each code point whose key is not itself;
// - first, inner, last: runs [start, outcome] of nicknameError over
//   X+"b", "a"+X+"b" and "ab"+X (outcome 0: allowed, else 1 + the index of
//   its text in ERRORS), a new run wherever the outcome changes.
import { nickKey, nicknameError } from "../../web/names.js";
import { BAD_CHARACTER, BAD_LENGTH, MUST_START_WITH_LETTER } from "../../web/texts.js";

const ERRORS = [MUST_START_WITH_LETTER, BAD_LENGTH, BAD_CHARACTER];
const LAST = 0x10ffff;

function runs(nickname) {
  const out = [];
  let previous = -1;
  for (let code = 0; code <= LAST; code++) {
    const outcome = 1 + ERRORS.indexOf(nicknameError(nickname(String.fromCodePoint(code))));
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
process.stdout.write(JSON.stringify({
  fold,
  first: runs((x) => `${x}b`),
  inner: runs((x) => `a${x}b`),
  last: runs((x) => `ab${x}`),
}));
