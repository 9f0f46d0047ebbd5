"""Extraction quality against gold (DEV test fold) stays at the recorded figures (extract/expected/).

A change that moves a figure by more than 0.02 fails here: a drop is a regression to fix, a gain
is recorded by rewriting the expected file (`pgxlit eval extraction --json`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pgxlit.extract.benchmarks import EXPECTED_DIR, evaluate
from pgxlit.extract.evaluate import compare_to_expected


@pytest.mark.parametrize("gold", ["pgxcorpus", "biored", "pgxmine"])
def test_figures_match_expected(shared: Path, gold: str) -> None:
    result, _ = evaluate(gold, shared / "gold" / gold, "test")
    drift = compare_to_expected(result, EXPECTED_DIR / f"{gold}.test.json")
    assert not drift, "\n".join(drift)
