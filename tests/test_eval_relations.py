"""tools/eval_relations.py: every row reads the fold it names, and a held fold never reads the test fold."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import eval_relations as er  # noqa: E402
import train_relations as tr  # noqa: E402

from pgxlit.extract.gold import GoldDoc, dev_split  # noqa: E402
from pgxlit.extract.gold_folds import held_back  # noqa: E402

# Ids shaped like PGxCorpus sentence ids (PMID_n): enough of them that every fold is populated.
DOCS = [GoldDoc(f"{10_000_000 + 7919 * k}_{k % 3}", "text", (), ()) for k in range(400)]


def ids(docs) -> set[str]:
    return {d.id for d in docs}


def test_held_folds_are_train_fold_parts_and_never_touch_test() -> None:
    test, train = ids(dev_split(DOCS, "test")), ids(dev_split(DOCS, "train"))
    held, span = ids(er.fold_docs(DOCS, "held")), ids(er.fold_docs(DOCS, "held-span"))
    assert ids(er.fold_docs(DOCS, "test")) == test
    assert held and span and test
    assert held <= train and span <= train
    assert not held & test and not span & test


def test_each_held_fold_is_the_one_its_trainers_held_back() -> None:
    train = dev_split(DOCS, "train")
    assert ids(er.fold_docs(DOCS, "held")) == {d.id for d in train if tr.fold_of(d.id) == 0}
    assert ids(er.fold_docs(DOCS, "held-span")) == {d.id for d in train if held_back(d.id)}
    # Two different hashes: the relation fifth is not the span fifth.
    assert ids(er.fold_docs(DOCS, "held")) != ids(er.fold_docs(DOCS, "held-span"))


def test_every_fold_says_what_saw_it_and_unknown_folds_are_refused() -> None:
    assert set(er.FOLDS) == {"test", "held", "held-span"}
    assert "never trained on it" in er.FOLDS["held"] and "optimistic for entities" in er.FOLDS["held"]
    with pytest.raises(ValueError, match="unknown fold"):
        er.fold_docs(DOCS, "train")


def test_cli_refuses_a_fold_it_does_not_know(capsys) -> None:
    with pytest.raises(SystemExit):
        er.main(["--fold", "dev"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_classifier_under_test_says_what_it_was_fitted_on() -> None:
    class Blend:
        meta = {"data": {"fold": "train minus fold 0"}, "blend": {"weight": 0.2}}
        sparse = type("Sparse", (), {"meta": {"what": "refitted without fold 0"}})()

    assert er.fitted_on(None).startswith("rules")
    assert er.fitted_on(Blend()) == "train minus fold 0; blended (weight 0.2) with the sparse model: refitted without fold 0"
    assert er.fitted_on(type("Sparse", (), {"meta": {"data": {"typed": {"fold": "train"}}}})()) == "train"
