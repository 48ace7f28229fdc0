"""The page's nickname rules and folding (web/names.js) against Python's, over every code point.

JavaScript has no casefold and its Unicode may not be Python's: web/names.js
folds and checks with tables generated from Python (tests/generate_web_data.py).
Here Node and Python each work through every code point and print what
differs from the character itself (folding) or where the outcome changes
(nickname rules), and the two lists must be equal.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any, Callable

import pytest

import generate_web_data
from parley.protocol import texts
from parley.protocol.names import is_forbidden, name_key, nickname_error, room_name_error, script_set

HERE = Path(__file__).parent
ERRORS = [texts.MUST_START_WITH_LETTER, texts.BAD_LENGTH, texts.BAD_CHARACTER, texts.MIXED_SCRIPTS,
          texts.ROOM_NAME_ERROR]


@pytest.fixture(scope="module")
def node_dump() -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is not installed"
    done = subprocess.run([node, str(HERE / "js" / "names_dump.mjs")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def runs(nickname: Callable[[str], str],
         check: Callable[[str], str | None] = nickname_error) -> list[list[int]]:
    """[start, outcome] where the outcome of ``check`` (nickname_error) changes, as names_dump.mjs prints them."""
    out: list[list[int]] = []
    previous = -1
    for code in range(sys.maxunicode + 1):
        error = check(nickname(chr(code)))
        outcome = 0 if error is None else 1 + ERRORS.index(error)
        if outcome != previous:
            out.append([code, outcome])
        previous = outcome
    return out


def assigned(code: int) -> bool:
    return unicodedata.category(chr(code)) != "Cn"


def _generated_unicode_version() -> str:
    match = re.search(r'UNICODE_VERSION = "([^"]+)"', (generate_web_data.WEB / "unicode.js").read_text("utf-8"))
    return match.group(1) if match else "?"


# The page's Unicode tables come from the Python that generated them: another
# Python's unicodedata (3.12 has Unicode 15) differs on the newest characters.
SAME_UNICODE = pytest.mark.skipif(
    unicodedata.unidata_version != _generated_unicode_version(),
    reason=f"web/unicode.js holds Unicode {_generated_unicode_version()}, this Python has "
           f"{unicodedata.unidata_version}: compared only with the Python that generated it",
)


def test_the_generated_texts_are_up_to_date() -> None:
    path = generate_web_data.WEB / "texts.js"
    assert path.read_text("utf-8") == generate_web_data.outputs()[path], "run: python tests/generate_web_data.py"


@SAME_UNICODE
def test_the_generated_unicode_tables_are_up_to_date() -> None:
    assert generate_web_data.main(["--check"]) == 0, "run: python tests/generate_web_data.py"


@SAME_UNICODE
def test_the_page_folds_every_assigned_code_point_as_python(node_dump: dict[str, Any]) -> None:
    python = {code: name_key(chr(code)) for code in range(sys.maxunicode + 1)
              if assigned(code) and name_key(chr(code)) != chr(code)}
    javascript = {code: key for code, key in node_dump["fold"] if assigned(code)}
    differ = sorted(set(python.items()) ^ set(javascript.items()))
    assert not differ, [(hex(code), key) for code, key in differ[:20]]
    assert len(python) > 5000  # NFKC and case folding both at work


@SAME_UNICODE
@pytest.mark.parametrize("position, nickname", [
    ("first", lambda x: f"{x}b"), ("inner", lambda x: f"a{x}b"), ("last", lambda x: f"ab{x}"),
])
def test_the_page_checks_every_code_point_as_python(node_dump: dict[str, Any], position: str,
                                                    nickname: Callable[[str], str]) -> None:
    python = runs(nickname)
    assert node_dump[position] == python
    assert len(python) > 100  # letters, marks, spaces and the unassigned interleave


@SAME_UNICODE
def test_the_page_has_the_script_set_of_every_allowed_code_point_as_python(node_dump: dict[str, Any]) -> None:
    javascript = {code: frozenset(codes.split()) for code, codes in node_dump["scripts"]}
    generated = generate_web_data.script_sets()
    assert javascript == generated
    # The generator finds sets script by script; names.script_set asks one character at a time.
    sample = [code for code in range(0, sys.maxunicode + 1, 31) if assigned(code) and not is_forbidden(chr(code))]
    differ = [hex(code) for code in sample if script_set(chr(code)) != generated.get(code, frozenset())]
    assert not differ, differ[:20]
    assert generated[ord("a")] == {"LATN"} and "JPAN" in generated[0x30FC]  # ー is Hiragana and Katakana


@SAME_UNICODE
@pytest.mark.parametrize("position, name", [("room_first", lambda x: x), ("room_inner", lambda x: f"a{x}")])
def test_the_page_checks_room_names_of_every_code_point_as_python(node_dump: dict[str, Any], position: str,
                                                                  name: Callable[[str], str]) -> None:
    python = runs(name, room_name_error)
    assert node_dump[position] == python
    assert len(python) > 100  # letters, digits, marks and the rest interleave
