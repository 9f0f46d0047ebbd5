"""`make demo`'s step table: each step's wall time, its own CPU time and peak memory, and the totals."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import demo  # noqa: E402


def test_a_step_reports_its_own_cpu_and_memory_and_the_table_totals_them() -> None:
    busy = "x = bytearray(80_000_000); sum(i * i for i in range(1_500_000))"
    step, code = demo.run_step("busy", [sys.executable, "-c", busy], dict(os.environ))
    assert code == 0 and step.cpu_s > 0.05 and step.peak_mb > 80 and step.wall_s >= step.cpu_s * 0.5
    failed, code = demo.run_step("fails", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
    assert code == 3
    table = demo.step_table([step, failed])
    total = table.splitlines()[-1].split()
    assert total[0] == "total" and abs(float(total[1]) - (step.wall_s + failed.wall_s)) < 0.06
    assert f"{step.peak_mb:6.0f} MB" in table.splitlines()[-1]
