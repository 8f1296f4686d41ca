"""The benchmark's quick run, so that it cannot rot: every message delivered, the vote
tally exact, the notice board answering — on SQLite and on PostgreSQL."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, require
from tests.servers import postgres_bin

pytestmark = pytest.mark.live


def test_quick_benchmark_runs_and_counts_right(tmp_path):
    require(postgres_bin() is not None, "PostgreSQL is not installed (apt-get install postgresql)")
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--modes", "eventlet",
         "--databases", "sqlite,postgres", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "vote burst" in run.stdout and "notice list" in run.stdout
    results = json.loads(out.read_text())
    assert {row["database"] for row in results["fan_out"]} == {"sqlite", "postgres"}
    for row in results["fan_out"]:
        for server in ("yiting", "bare"):
            assert row[server]["delivered"] == row[server]["expected"] > 0, row
            assert row[server]["dropped_connections"] == 0, row
    assert len(results["vote_burst"]) == 2
    for burst in results["vote_burst"]:
        assert burst["exact"], burst
        assert burst["clients_saw_closed"] == burst["listening"] >= burst["voters"], burst
    assert len(results["notice"]) == 12  # 3 pages × cached or not × 2 databases
    for row in results["notice"]:
        assert row["errors"] == 0 and row["requests"] > 0, row
