"""The benchmark's quick run, so that it cannot rot: every message delivered in every
round, measured both ways (both rooms at once, and in turn), the vote tally exact, the
notice board answering — on SQLite and on PostgreSQL."""

import json
import subprocess
import sys
import tempfile
from itertools import pairwise
from pathlib import Path

import pytest

from tests.conftest import ROOT, require
from tests.servers import postgres_bin

pytestmark = pytest.mark.live


def test_quick_benchmark_runs_and_counts_right(tmp_path):
    require(postgres_bin() is not None, "PostgreSQL is not installed (apt-get install postgresql)")
    out = tmp_path / "bench.json"

    def left_behind() -> set:  # the benchmark's data copies and logs
        return set(Path(tempfile.gettempdir()).glob("yiting-bench-*"))

    before = left_behind()
    run = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--modes", "eventlet",
         "--databases", "sqlite,postgres", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert left_behind() - before == set()  # a run with no failure removes what it made
    assert "vote burst" in run.stdout and "notice list" in run.stdout
    results = json.loads(out.read_text())
    rows = results["fan_out"]
    assert sorted((row["database"], row["yiting"]["clients"]) for row in rows) == [
        ("postgres", 10), ("postgres", 50), ("sqlite", 10), ("sqlite", 50)
    ]  # fmt: skip
    for row in rows:
        for server in ("yiting", "bare"):
            measured = row[server]
            assert measured["delivered"] == measured["expected"] > 0, row
            assert measured["dropped_connections"] == 0, row
            rounds = measured["each_round"]
            for r in rounds:
                assert r["delivered"] == measured["messages"] * measured["clients"], row
                assert len(r["last_arrival_ms"]) == measured["messages"], row
                assert max(r["last_arrival_ms"]) == r["max_ms"], row
        yiting, bare = row["yiting"]["each_round"], row["bare"]["each_round"]
        if row["yiting"]["clients"] == 10:
            # 100 messages: one round, both rooms at once (their messages interleaved)
            assert row["yiting"]["messages"] == row["bare"]["messages"] == 100, row
            assert len(yiting) == len(bare) == 1, row
            assert bare[0]["began"] < yiting[0]["ended"] and yiting[0]["began"] < bare[0]["ended"]
        else:
            # 20 messages: three rounds in turn (bare, Yiting; Yiting, bare; bare, Yiting),
            # each figure their median
            assert row["yiting"]["messages"] == 20 and len(yiting) == len(bare) == 3, row
            turns = sorted([*yiting, *bare], key=lambda r: r["began"])
            assert [r in yiting for r in turns] == [False, True, True, False, False, True]
            assert all(a["ended"] < b["began"] for a, b in pairwise(turns)), row
            for measured in (row["yiting"], row["bare"]):
                for figure in ("p50_ms", "p99_ms", "deliveries_per_s"):
                    assert measured[figure] == sorted(r[figure] for r in measured["each_round"])[1]
        ratio = row["yiting"]["p99_ms"] / row["bare"]["p99_ms"]
        assert row["ratio_p99"] == round(ratio, 2), row
    assert len(results["vote_burst"]) == 2
    for burst in results["vote_burst"]:
        assert burst["exact"], burst
        assert burst["clients_saw_closed"] == burst["listening"] >= burst["voters"], burst
    # 3 pages × 3 readers (visitor, signed in, no cache) × 2 databases
    assert len(results["notice"]) == 18
    assert {row["reader"] for row in results["notice"]} == {"visitor", "signed in", "no cache"}
    for row in results["notice"]:
        assert row["errors"] == 0 and row["requests"] > 0, row
