"""Differential fuzzing: the Python and JavaScript codecs give the same answer for any text.

Thousands of random and mutated frames go through both codecs (the
JavaScript one in a single Node process); each must parse to the same frame
and format to the same text in both, or be refused with the same error code,
and the JavaScript codec must never throw anything but its own ProtocolError.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.protocol import RemoteProtocolError, format_frame, parse_frame
from test_codec_properties import frames

HERE = Path(__file__).parent
ALPHABET = [",", ",", ";", ";", "=", "=", "/", "/", "/", "a", "b", "X", "1", " ", "\n", "\r", "é", "世", "😀", "_"]


def python_result(text: str) -> dict:
    try:
        frame = parse_frame(text)
    except RemoteProtocolError as error:
        return {"error": error.code}
    return {"reason": frame.reason, "params": [list(item) for item in frame.params.items()],
            "content": frame.content, "formatted": format_frame(frame)}


def random_texts(seed: int, count: int) -> list[str]:
    """Random strings heavy in separators and escapes, and mutations of the shared vectors."""
    rng = random.Random(seed)
    vectors = json.loads((HERE / "vectors" / "frames.json").read_text())
    seeds = [case["text"] for case in vectors["frames"] + vectors["malformed"]]
    texts = []
    for _ in range(count):
        if rng.random() < 0.5:
            reason = rng.choice(["CHAT", "CON", "X", "chat", "1X", "", "A_b9"])
            body = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 40)))
            texts.append(f"{reason},{body}")
        else:
            text = list(rng.choice(seeds))
            for _ in range(rng.randrange(1, 5)):
                at = rng.randrange(0, len(text) + 1)
                action = rng.random()
                if action < 0.4:
                    text.insert(at, rng.choice(ALPHABET))
                elif action < 0.7 and text:
                    del text[min(at, len(text) - 1)]
                elif text:
                    text[min(at, len(text) - 1)] = rng.choice(ALPHABET)
            texts.append("".join(text))
    return texts


def javascript_results(texts: list[str]) -> list[dict]:
    node = shutil.which("node")
    assert node, "node is not installed"
    done = subprocess.run([node, str(HERE / "js" / "parse_batch.mjs")], input=json.dumps(texts),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_python_and_javascript_codecs_agree_on_random_and_mutated_frames() -> None:
    texts = random_texts(seed=20261124, count=5000)
    texts += ["X,a=" + "/" * 5000 + ",c", "X," + "/;" * 3000, "X," + ";".join(f"k{i}=v" for i in range(2000)) + ","]
    disagreements = []
    for text, js in zip(texts, javascript_results(texts), strict=True):
        assert "crash" not in js, f"the JavaScript codec threw a foreign error on {text!r}: {js['crash']}"
        if js != python_result(text):
            disagreements.append((text, js, python_result(text)))
    assert not disagreements, disagreements[:5]
    parsed = sum("reason" in python_result(t) for t in texts)
    assert 500 < parsed < len(texts) - 500  # both outcomes well exercised


# The same property with hypothesis choosing the inputs (and shrinking any
# disagreement to a small example): one Node run per batch of texts.

separator_heavy = st.text(st.sampled_from(ALPHABET), max_size=60)
reasons_and_bodies = st.builds(lambda reason, body: f"{reason},{body}",
                               st.sampled_from(["CHAT", "X", "x9", "9x", ""]), separator_heavy)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(separator_heavy, reasons_and_bodies, st.text(max_size=40)), min_size=1, max_size=300))
def test_both_codecs_agree_on_any_text(texts: list[str]) -> None:
    for text, js in zip(texts, javascript_results(texts), strict=True):
        assert "crash" not in js, (text, js)
        assert js == python_result(text), text


@settings(max_examples=25, deadline=None)
@given(st.lists(frames, min_size=1, max_size=100))
def test_javascript_parses_what_python_formats(batch: list) -> None:
    texts = [format_frame(frame) for frame in batch]
    for frame, js in zip(batch, javascript_results(texts), strict=True):
        assert (js["reason"], js["params"], js["content"]) == (
            frame.reason, [list(item) for item in frame.params.items()], frame.content)
        assert js["formatted"] == format_frame(frame)
