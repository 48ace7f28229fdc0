"""The web page's JavaScript modules (codec, state, text) under Node's own test runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

JS_TESTS = Path(__file__).parent / "js"


def test_javascript_unit_tests_pass_under_node() -> None:
    node = shutil.which("node")
    assert node, "node is not installed (Node 20 or newer is needed for the JavaScript tests)"
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    assert files, f"no *.test.mjs files in {JS_TESTS}"
    result = subprocess.run(
        [node, "--test", "--test-reporter=spec", *files],
        capture_output=True, text=True, timeout=120, cwd=JS_TESTS,
    )
    assert result.returncode == 0, f"node --test failed:\n{result.stdout}\n{result.stderr}"
