"""Smoke test of the benchmark suite: every scenario of ``python -m bench`` in a tiny, bounded setup.

Real processes on loopback (Parley from this working tree, the yardstick,
websockify, the load generators), no mocks: each command must print exactly
one sane summary line and write JSON holding its figures, with nothing lost.
The ten commands run three at a time to stay well under a minute.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
TINY = ["--rounds", "1", "--procs", "1", "--seconds", "0.3", "--latency-seconds", "0.3", "--quiet"]
SCENARIOS: dict[str, list[str]] = {
    "yardstick": ["--clients", "10"],
    "fanout": ["--clients", "10"],
    "persistence": ["--clients", "10"],
    "gateway": ["--clients", "10", "--mixed-clients", "10"],
    "overhead": ["--rtt-clients", "10", "--rtt-rate", "200"],
    "capacity": ["--idle-tcp", "40", "--idle-ws", "20", "--logins", "40"],
    "rooms": ["--clients", "12", "--rooms", "4", "--room-members", "5", "--room-rate", "20", "--room-sample", "2"],
    "search": ["--messages", "3000", "--search-rounds", "2"],
    "files": ["--clients", "10", "--files", "2", "--file-size", "200_000", "--uploaders", "2",
              "--upload-rate", "20_000_000"],
    "cluster": ["--clients", "10", "--nodes", "2", "--store-senders", "10", "--store-seconds", "0.3"],
}


def _run(name: str, tmp: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp / f"{name}.json"
    command = [sys.executable, "-m", "bench", name, *SCENARIOS[name], *TINY, "--json", str(out)]
    if name == "search":  # its built history goes to the test's folder, not build/
        command += ["--cache", str(tmp / "search-cache")]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120), out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    tmp = tmp_path_factory.mktemp("bench")
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(_run, name, tmp) for name in SCENARIOS}
        return {name: future.result() for name, future in futures.items()}


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_scenario_prints_one_summary_line_and_writes_its_figures(
        runs: dict[str, tuple[subprocess.CompletedProcess[str], Path]], name: str) -> None:
    done, out = runs[name]
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{name}: "), done.stdout
    assert "LOST" not in lines[0] and "FAILED" not in lines[0] and " - " not in lines[0], lines[0]
    document = json.loads(out.read_text())
    assert document["scenario"] == name and document["summary"] == lines[0]
    assert document["machine"]["cores"] >= 1 and document["command"].startswith(f"python -m bench {name}")
    assert document["rows"] and all(row["measure"] and row["parley"] for row in document["rows"]
                                    if row["scenario"][0] != "6")
    series = document["figures"]["series"]
    for system, measures in series.items():
        for measure, values in measures.items():
            if measure.startswith("lost"):
                assert all(v == 0 for v in values), (system, measure, values)
            elif not measure.startswith(("ws-kb", "tcp-kb", "cpu")):  # memory deltas may be noise at this size,
                # and CPU time, counted in clock ticks of 10 ms, may read 0 in a run of 0.3 s
                assert all(_positive(v) for v in values), (system, measure, values)


def test_fanout_measures_both_systems_with_every_message_delivered(
        runs: dict[str, tuple[subprocess.CompletedProcess[str], Path]]) -> None:
    document = json.loads(runs["fanout"][1].read_text())
    series = document["figures"]["series"]
    assert set(series) == {"yardstick-10", "parley-10"}
    for system in series.values():
        assert _positive(system["max"][0]) and _positive(system["p99@50"][0])
    for run in document["figures"]["runs"]:
        assert run["complete"] and run["receivers"] == 10 and run["sent"] > 0


def test_cluster_measures_one_node_against_embedded_and_two_nodes_across_with_one_publish_a_message(
        runs: dict[str, tuple[subprocess.CompletedProcess[str], Path]]) -> None:
    figures = json.loads(runs["cluster"][1].read_text())["figures"]
    series = figures["series"]
    assert set(series) == {"embedded", "cluster-1", "1 node", "2 nodes", "postgresql"}
    for system in ("embedded", "cluster-1"):
        assert _positive(series[system]["max"][0]) and _positive(series[system]["p99@50"][0]), system
    for system in ("1 node", "2 nodes"):
        assert _positive(series[system]["p99@50"][0]), system
        # One PUBLISH a chat message whatever the receivers (10 here), not one a receiver.
        assert all(0.9 <= value <= 1.2 for value in series[system]["publishes"]), series[system]["publishes"]
    assert 0.9 <= figures["publishes_per_message_part1"] <= 1.2
    across = [run for run in figures["runs"] if run.get("nodes")]
    assert {run["nodes"] for run in across} == {1, 2}
    assert all(run["complete"] and run["lost"] == 0 and run["sent"] > 0 for run in across)
    stored = [run for run in figures["runs"] if run["system"] == "postgresql"]
    assert stored and all(run["stored"] > 0 and run["failed"] == 0 and run["rows"] >= run["stored"] for run in stored)


def test_overhead_and_capacity_measure_every_system(
        runs: dict[str, tuple[subprocess.CompletedProcess[str], Path]]) -> None:
    overhead = json.loads(runs["overhead"][1].read_text())["figures"]["series"]
    assert set(overhead) == {"gateway", "tcp", "gateway-process", "websockify"}
    assert all(_positive(s["rtt"][0]) and _positive(s["p99@200"][0]) for s in overhead.values())
    capacity = json.loads(runs["capacity"][1].read_text())["figures"]["series"]
    assert _positive(capacity["parley"]["login-seconds"][0]) and _positive(capacity["parley"]["burst-seconds"][0])
    assert "tcp-kb" in capacity["yardstick"] and "ws-kb" in capacity["parley"]


def test_rooms_measures_every_lobby_and_every_room_with_every_message_delivered(
        runs: dict[str, tuple[subprocess.CompletedProcess[str], Path]]) -> None:
    document = json.loads(runs["rooms"][1].read_text())
    figures = document["figures"]
    assert figures["layout"]["rooms"] == 4 and figures["layout"]["members"] == 5
    series = figures["series"]
    assert set(series) == {"yardstick", "fanout", "lobby", "lobby+rooms", "rooms", "rooms+lobby@50",
                           "rooms+lobby-max"}
    for lobby in ("yardstick", "fanout", "lobby", "lobby+rooms"):
        assert _positive(series[lobby]["max"][0]) and _positive(series[lobby]["p99@50"][0]), lobby
    assert all(v >= 0 for v in [*series["rooms"]["cpu"], *series["lobby"]["cpu@50"], *series["lobby+rooms"]["cpu@50"]])
    room_runs = [run for run in figures["runs"] if "rooms" in run and run["system"].startswith("rooms")]
    assert len(room_runs) == 3
    for run in room_runs:
        assert run["complete"] and run["lost"] == 0
        assert [r["room"] for r in run["rooms"]] == [0, 1, 2, 3]
        # 20 a second for 0.3 s (0.8 s beside the lobby's runs): every member of every room got them all.
        assert all(r["members"] == 5 and r["sent"] >= 6 and _positive(r["deliveries_per_s"])
                   and _positive(r["p99_ms"]) for r in run["rooms"]), run["rooms"]
    lobby_runs = [run for run in figures["runs"] if run["system"] in ("lobby", "lobby+rooms")]
    assert lobby_runs and all(run["complete"] and run["receivers"] == 12 for run in lobby_runs)


def test_the_rooms_layout_gives_every_room_its_members_and_samples_each_room() -> None:
    from bench.rooms import Layout

    layout = Layout(clients=1000, rooms=100, members=50, sample=5, procs=2)
    members = {room: {layout.client(room, j) for j in range(50)} for room in range(100)}
    assert all(len(m) == 50 for m in members.values())
    per_client = [sum(c in m for m in members.values()) for c in range(1000)]
    assert set(per_client) == {5}
    creators = layout.entries(creators=True)
    assert sum(len(e) for e in creators) == 100 and all(reason == "CREATE" for e in creators for _, _, reason in e)
    assert sum(len(e) for e in layout.entries(creators=False)) == 100 * 49
    sampled = {layout.place(c) for room in range(100) for c in (layout.client(room, j) for j in range(5))}
    assert sampled == {(w, n) for w, numbers in enumerate(layout.sampled()) for n in numbers}
    small = Layout(clients=40, rooms=3, members=10, sample=2, procs=2)
    assert small.in_rooms == 30 and small.place(29) == (1, 14)


def test_the_generated_table_replaces_only_the_text_between_the_markers(tmp_path: Path) -> None:
    from bench.common import Result, Row
    from bench.report import BEGIN, END, update_benchmarks

    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"# Benchmarks\n\nProse before.\n\n{BEGIN}\nold figures\n{END}\n\nProse after.\n")
    result = Result("fanout", "python -m bench fanout", "fanout: N=10 ...",
                    [Row("1 fan-out TCP", "max fan-out, N=10", "1M/s", "2M/s", "0.50x", ">= 0.50x", "pass")], {})
    update_benchmarks([result], "Generated.", path)
    text = path.read_text()
    assert "Prose before." in text and "Prose after." in text and "old figures" not in text
    assert "| 1 fan-out TCP | max fan-out, N=10 | 1M/s | 2M/s | 0.50x | >= 0.50x | pass |" in text
    assert text.count(BEGIN) == 1 and text.count(END) == 1


def test_search_times_every_kind_of_query_and_the_appends_with_and_without_the_index(
        runs: dict[str, tuple[subprocess.CompletedProcess[str], Path]]) -> None:
    from bench.search import KINDS, LIMIT

    document = json.loads(runs["search"][1].read_text())
    figures = document["figures"]
    assert figures["layout"]["messages"] == 3000 and figures["layout"]["rooms"] == 50
    assert figures["layout"]["typical_rooms"] == 5 and figures["layout"]["few_rooms"] == 1
    store = figures["store"]
    assert set(store["times_ms"]) == set(KINDS)
    assert all(len(values) == 4 * 2 for values in store["times_ms"].values())  # four queries, two rounds each
    assert all(0 <= found <= LIMIT for found in store["found"].values())
    # "the" is in most messages: a full page, and more after it.
    common = next(label for label in store["found"] if label.startswith("common: the "))
    assert store["found"][common] == LIMIT and store["more"][common]
    assert figures["sizes"]["fts"] > 0 and figures["sizes"]["messages"] > 0
    appends = figures["appends"]
    assert appends["triggers"], "a version-4 store keeps its FTS index with triggers"
    for system in ("index", "no index"):
        assert len(appends[system]["1"]) == 30 and len(appends[system]["100"]) == 10
    if "SEARCH" in (REPO / "PROTOCOL.md").read_text():  # the server knows SEARCH: it must be measured too
        wire = figures["wire"]
        assert isinstance(wire, dict), wire
        assert wire["found"] == store["found"], "SEARCH over TCP finds what Store.search finds"
        assert set(wire["times_ms"]) == set(KINDS)


def test_the_search_history_is_the_same_for_the_same_seed(tmp_path: Path) -> None:
    import sqlite3

    from bench.search import build

    contents = []
    for name in ("a", "b"):
        build(tmp_path / name, 1500, 7, lambda _: None)
        db = sqlite3.connect(tmp_path / name / "data" / "parley.sqlite3")
        contents.append(db.execute("SELECT ts_ms, sender, rec, content, sender_ident, rec_ident, room_id FROM messages"
                                   " ORDER BY id").fetchall())
        db.close()
    assert contents[0] == contents[1] and len(contents[0]) == 1500
    words = [len(content.split()) for *_, content, _, _, _ in contents[0]]
    assert min(words) >= 3 and sorted(words)[len(words) // 2] <= 30
    recs = [rec for _, _, rec, *_ in contents[0]]
    assert 0.25 < recs.count("-ALL") / 1500 < 0.45 and 0.35 < sum(r.startswith("#") for r in recs) / 1500 < 0.55
    assert any(not content.isascii() for *_, content, _, _, _ in contents[0])


def test_files_measures_uploads_downloads_and_the_chat_beside_uploads_against_a_minimal_aiohttp_server(
        runs: dict[str, tuple[subprocess.CompletedProcess[str], Path]]) -> None:
    document = json.loads(runs["files"][1].read_text())
    figures = document["figures"]
    assert (figures["clients"], figures["files"], figures["file_size"], figures["uploaders"]) == (10, 2, 200_000, 2)
    assert figures["upload_rate"] == 20e6 and "--upload-rate 20000000" in document["command"]
    series = figures["series"]
    assert set(series) == {"parley", "aiohttp", "chat", "chat+uploads"}
    assert set(series["parley"]) == {"upload", "share", "download"}
    assert set(series["aiohttp"]) == {"upload", "download"}
    # A whole share (UPLOAD, POST, CHAT file=) takes longer than its POST.
    assert series["parley"]["share"][0] < series["parley"]["upload"][0]
    uploads = next(run for run in figures["runs"] if run["system"] == "parley")
    assert len(uploads["post_seconds"]) == 2 and all(a < b for a, b in zip(uploads["post_seconds"],
                                                                          uploads["share_seconds"]))
    chats = [run for run in figures["runs"] if run["system"].startswith("chat")]
    assert {run["system"] for run in chats} == {"chat", "chat+uploads"}
    for run in chats:  # 50 broadcasts/s for 0.3 s, every one to all 10 clients
        assert run["complete"] and run["receivers"] == 10 and run["sent"] >= 10 and run["lost"] == 0
    beside = next(run for run in chats if run["system"] == "chat+uploads")
    assert beside["uploads"] >= 1 and beside["upload_bytes"] > 0
    # The loops' uploads are paced at 20 MB/s each: two of them send at most 40 MB/s between them.
    assert 0 < series["chat+uploads"]["upload-bytes-per-s"][0] <= 2 * 20e6 * 1.2
    rows = {row["measure"].split(":")[0]: row for row in document["rows"]}
    assert rows["upload, 2 files of 200,000 bytes one after the other"]["ratio"].endswith("x")
    latency = next(row for row in document["rows"] if row["measure"].startswith("chat latency"))
    assert latency["target"] == "<= 1.5x" and latency["verdict"] in ("pass", "miss")
