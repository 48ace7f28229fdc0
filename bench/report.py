"""Results out: JSON files and BENCHMARKS.md's generated table (between markers, prose kept)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

from .common import Result, jsonable, machine
from .procs import REPO

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
BENCHMARKS = REPO / "BENCHMARKS.md"


def write_json(path: Path, results: Sequence[Result], extra: dict[str, Any] | None = None) -> None:
    """Write the results (one, or a list for ``all``) as strict JSON to ``path``."""
    items = [{"scenario": r.scenario, "command": r.command, "summary": r.summary, "seconds": r.seconds,
              "rows": [vars(row) for row in r.rows], "figures": r.figures} for r in results]
    document: dict[str, Any] = {"machine": machine(), **(extra or {})}
    if len(items) == 1:
        document.update(items[0])
    else:
        document["results"] = items
    Path(path).write_text(json.dumps(jsonable(document), indent=1, allow_nan=False) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(results: Sequence[Result], header: str) -> str:
    """Return the generated Markdown: machine, table of every row, and the commands that produced them."""
    info = machine()
    lines = [
        header,
        "",
        f"Measured {info['date']} on {info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB, "
        f"Linux {info['kernel']}, Python {info['python']}, Parley at commit {info['commit'] or '?'}.",
        "",
        "| scenario | measure | Parley | reference | ratio | target | |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for row in result.rows:
            lines.append("| " + " | ".join(_cell(c) for c in (row.scenario, row.measure, row.parley, row.reference,
                                                               row.ratio, row.target, row.verdict)) + " |")
    lines += ["", "Commands (each also prints its one summary line; `--json PATH` keeps every figure):", ""]
    for result in results:
        lines.append(f"- `{result.command}` ({result.seconds / 60:.1f} min): {result.summary}")
    return "\n".join(lines)


def update_benchmarks(results: Sequence[Result], header: str, path: Path = BENCHMARKS) -> None:
    """Replace the text between the markers of BENCHMARKS.md (or add the markers at its end)."""
    block = f"{BEGIN}\n{table(results, header)}\n{END}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
