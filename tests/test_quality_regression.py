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


def test_label_biomarker_figures_match_expected(shared: Path, tmp_path: Path) -> None:
    """`pgxlit eval labels` on every recorded FDA label: the raw headline (every PGx-flagged pair of
    every label, false pairs by cause) and the 60-drug raw and adjudicated rows stay put."""
    from pgxlit.config import Settings
    from pgxlit.extract.label_eval import evaluate_labels, evaluate_raw, read_adjudication, read_fda_label_gold
    from pgxlit.ingest.load import Loader
    from pgxlit.store import Store

    settings = Settings(home=tmp_path, db_url=f"sqlite:///{tmp_path / 'fda.sqlite'}")
    store = Store(settings.resolved_db_url)
    assert Loader(store, settings).load([shared / "corpora/fda"]).files_failed == 0
    gold = read_fda_label_gold(shared / "gold/pharmgkb_drug_labels/drugLabels.tsv")
    labels = store.label_versions()
    store.close()
    cache: dict = {}
    raw = evaluate_raw(labels, gold, cache)
    scores = evaluate_labels(labels, gold, thresholds=(0.0, 0.5), cache=cache)
    verdicts = read_adjudication()
    judged = raw.adjudicated(verdicts).as_dict()
    result = {"raw_all_labels": raw.as_dict(),
              "raw_all_labels_adjudicated": {k: judged[k] for k in ("pairs", "right", "false", "precision")},
              **{str(t): {"raw": s.as_dict(), "adjudicated": s.adjudicated(verdicts).as_dict()} for t, s in scores.items()}}
    drift = compare_to_expected(result, EXPECTED_DIR / "labels.json")
    assert not drift, "\n".join(drift)
    unjudged = [e for e in scores[0.0].extras if e not in verdicts]
    assert not unjudged, f"extra pairs nobody has judged yet (add them to labels_adjudication.yaml): {unjudged}"
