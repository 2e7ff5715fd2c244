"""The bench summary for a subset of services, worker counts and concurrency levels.

Computed from rows alone (no benchmark run): `python -m bench --services docs
--workers 1,2 --concurrency 64` once crashed after measuring, the summary
assuming concurrency 1 had been run.
"""

from __future__ import annotations

import pytest

from bench.__main__ import (
    MTLS,
    PLAINTEXT,
    Row,
    added_latency,
    print_table,
    summary_lines,
    with_ratios,
)

DOCS_1W = "broker: docs, sqlite"
DOCS_2W = "broker: docs, sqlite, 2 workers"


def row(path: str, concurrency: int, rps: float, p50: float, p99: float,
        cpu: float | None = 1.0) -> Row:
    return Row(path=path, concurrency=concurrency, rps=rps, p50_ms=p50, p99_ms=p99,
               p999_ms=None, count=4000, errors=0, cpu_ms_per_req=cpu)


def test_only_concurrency_64_prints_its_lines_and_marks_the_concurrency_1_one() -> None:
    rows = with_ratios([row(PLAINTEXT, 64, 8000.0, 7.0, 9.0, 0.2),
                        row(MTLS, 64, 4000.0, 15.0, 20.0, 0.5),
                        row(DOCS_1W, 64, 1000.0, 60.0, 90.0, 1.5),
                        row(DOCS_2W, 64, 1500.0, 40.0, 70.0, 1.8)])
    added = added_latency(rows)
    assert added == {}
    assert summary_lines(rows, added, {}) == [
        "added latency over the mTLS proxy at concurrency 1: not measured "
        "(concurrency 1 not run)",
        f"{DOCS_2W} at concurrency 64: 1.50x one worker"]
    by_path = {r.path: r for r in rows}
    assert (by_path[DOCS_1W].ratio, by_path[DOCS_1W].cpu_vs_mtls) == (0.25, 3.0)
    assert (by_path[DOCS_2W].vs_one_worker, by_path[DOCS_2W].cpu_per_req_vs_one_worker) == (
        1.5, 1.2)


def test_workers_ratio_is_at_the_highest_level_run_and_marked_without_one_worker() -> None:
    rows = with_ratios([row(MTLS, 1, 2000.0, 0.4, 0.9), row(MTLS, 16, 3000.0, 5.0, 8.0),
                        row(DOCS_2W, 1, 500.0, 1.9, 3.4), row(DOCS_2W, 16, 900.0, 17.0, 30.0)])
    added = added_latency(rows)
    assert added == {DOCS_2W: {"p50_ms": 1.5, "p99_ms": 2.5}}
    assert summary_lines(rows, added, {}) == [
        f"added latency over the mTLS proxy at concurrency 1, {DOCS_2W}: p50 +1.5 ms, "
        "p99 +2.5 ms (client signing and verification not included)",
        f"{DOCS_2W} at concurrency 16: vs one worker not measured (1 worker not run)"]


def test_full_selection_summary_and_micro_figures() -> None:
    rows = with_ratios([row(MTLS, 1, 2000.0, 0.5, 1.0), row(MTLS, 64, 4000.0, 15.0, 20.0),
                        row(DOCS_1W, 1, 400.0, 2.25, 4.0), row(DOCS_1W, 64, 1000.0, 60.0, 90.0),
                        row(DOCS_2W, 1, 380.0, 2.5, 4.5), row(DOCS_2W, 64, 1250.0, 45.0, 80.0)])
    micro = {"policy_rules": 1000, "policy_p50_us": 1.2, "policy_p99_us": 3.4,
             "audit_sqlite_appends_per_s_c1": 900, "audit_sqlite_appends_per_s_c64": 25000}
    added = added_latency(rows)
    assert summary_lines(rows, added, micro) == [
        f"added latency over the mTLS proxy at concurrency 1, {DOCS_1W}: p50 +1.75 ms, "
        "p99 +3.0 ms (client signing and verification not included)",
        f"added latency over the mTLS proxy at concurrency 1, {DOCS_2W}: p50 +2.0 ms, "
        "p99 +3.5 ms (client signing and verification not included)",
        f"{DOCS_2W} at concurrency 64: 1.25x one worker",
        "policy decision, 1000 rules: p50 1.2 µs, p99 3.4 µs; audit appends (SQLite, "
        "durable): 900/s one at a time, 25000/s from 64 concurrent appenders"]


def test_table_prints_one_line_per_row_run(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(with_ratios([row(MTLS, 64, 4000.0, 15.0, 20.0, 0.5),
                             row(DOCS_1W, 64, 1000.0, 60.0, 90.0, None)]))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4  # header, rule, two rows
    assert lines[2].split() == ["baseline:", "mTLS", "2-hop", "64", "4000.0", "15.000",
                                "20.000", "-", "0.500", "-", "-", "-", "-"]
    # No CPU figure measured for the broker row: its CPU ratio is blank, not invented.
    assert lines[3].split() == ["broker:", "docs,", "sqlite", "64", "1000.0", "60.000",
                                "90.000", "-", "-", "-", "-", "-", "-", "0.25"]
