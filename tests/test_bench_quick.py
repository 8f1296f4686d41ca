"""The benchmark's quick run, so that it cannot rot: every message delivered in every
round, the vote tally exact, the notice board answering — on SQLite and on PostgreSQL."""

import json
import subprocess
import sys
import tempfile
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
    assert {row["database"] for row in results["fan_out"]} == {"sqlite", "postgres"}
    for row in results["fan_out"]:
        for server in ("yiting", "bare"):
            measured = row[server]
            assert measured["delivered"] == measured["expected"] > 0, row
            assert measured["dropped_connections"] == 0, row
            # 5 messages a round: measured in 3 rounds, each figure their median
            rounds = measured["each_round"]
            assert measured["rounds"] == len(rounds) == 3, row
            assert [r["delivered"] for r in rounds] == [5 * measured["clients"]] * 3, row
            for figure in ("p50_ms", "p99_ms", "deliveries_per_s"):
                assert measured[figure] == sorted(r[figure] for r in rounds)[1], row
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
