"""tools/eval_relations.py: every row reads the fold it names, a held fold never reads the test fold,
and the output says what the classifier under test was fitted on (from the shipped meta.json files)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import eval_relations as er  # noqa: E402
import train_relations as tr  # noqa: E402

from pgxlit.extract.gold import GoldDoc, dev_split, read_pgxcorpus  # noqa: E402
from pgxlit.extract.gold_folds import held_back  # noqa: E402


@pytest.fixture(scope="module")
def pgx_docs(gold: Path) -> list[GoldDoc]:
    """PGxCorpus's DEV sentences (../shared/gold/pgxcorpus)."""
    return read_pgxcorpus(gold / "pgxcorpus")


def ids(docs) -> set[str]:
    return {d.id for d in docs}


def test_held_folds_are_train_fold_parts_and_never_touch_test(pgx_docs: list[GoldDoc]) -> None:
    test, train = ids(dev_split(pgx_docs, "test")), ids(dev_split(pgx_docs, "train"))
    held, span = ids(er.fold_docs(pgx_docs, "held")), ids(er.fold_docs(pgx_docs, "held-span"))
    assert ids(er.fold_docs(pgx_docs, "test")) == test
    assert held and span and test
    assert held <= train and span <= train
    assert not held & test and not span & test


def test_each_held_fold_is_the_one_its_trainers_held_back(pgx_docs: list[GoldDoc]) -> None:
    train = dev_split(pgx_docs, "train")
    assert ids(er.fold_docs(pgx_docs, "held")) == {d.id for d in train if tr.fold_of(d.id) == 0}
    assert ids(er.fold_docs(pgx_docs, "held-span")) == {d.id for d in train if held_back(d.id)}
    # Two different hashes: the relation fifth is not the span fifth.
    assert ids(er.fold_docs(pgx_docs, "held")) != ids(er.fold_docs(pgx_docs, "held-span"))


def test_every_fold_says_what_saw_it_and_unknown_folds_are_refused(pgx_docs: list[GoldDoc]) -> None:
    assert set(er.FOLDS) == {"test", "held", "held-span"}
    assert "never trained on it" in er.FOLDS["held"] and "optimistic for entities" in er.FOLDS["held"]
    with pytest.raises(ValueError, match="unknown fold"):
        er.fold_docs(pgx_docs, "train")


def test_cli_refuses_a_fold_it_does_not_know(capsys) -> None:
    with pytest.raises(SystemExit):
        er.main(["--fold", "dev"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_classifier_under_test_says_what_it_was_fitted_on() -> None:
    """From the shipped meta.json files: the blend names its own fold and the sparse model it reads."""
    models = REPO / "corpora" / "models"
    tf, sparse = (models / "pgx_rel_tf" / "meta.json"), (models / "pgx_rel" / "meta.json")
    if not tf.is_file() or not sparse.is_file():
        pytest.skip("the relation models are not shipped in this checkout")
    tf_meta, sparse_meta = (json.loads(f.read_text(encoding="utf-8")) for f in (tf, sparse))
    assert er.fitted_on(None).startswith("rules")
    said = er.fitted_on(tf_meta, sparse_meta)
    assert said.startswith(tf_meta["data"]["fold"])
    assert f"blended (weight {tf_meta['blend']['weight']}) with the sparse model" in said
    assert er.fitted_on(sparse_meta) != "?"
    held_copy = {"what": "pgx_rel refitted without the held-back fifth"}
    assert er.fitted_on(tf_meta, held_copy).endswith("pgx_rel refitted without the held-back fifth")


def test_a_blend_on_a_held_fold_is_warned_unless_it_reads_the_held_sparse_copy() -> None:
    """The shipped blend reads the shipped sparse model, fitted on the held fifths too (typed F1 0.88 there):
    its rows on a held fold carry a warning; over the --held-sparse copy (blend.sparse_folder) they do not."""
    meta_file = REPO / "corpora" / "models" / "pgx_rel_tf" / "meta.json"
    if not meta_file.is_file():
        pytest.skip("the relation transformer is not shipped in this checkout")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    if meta.get("blend", {}).get("weight", 1.0) >= 1.0:
        pytest.skip("the shipped relation transformer does not blend")
    assert "--sparse-folder" in er.blend_warning("held", meta) and er.blend_warning("held-span", meta)
    assert er.blend_warning("test", meta) is None
    held_copy = {**meta, "blend": {**meta["blend"], "sparse_folder": "/tmp/pgx_rel_held"}}
    assert er.blend_warning("held", held_copy) is None
    assert er.blend_warning("held", {k: v for k, v in meta.items() if k != "blend"}) is None


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--relations", "auto", "--sparse-folder", "corpora/models/pgx_rel"], "needs a blended relation transformer"),
        (["--relations", "transformer", "--sparse-folder", "/nonexistent/pgx_rel_held"], "--held-sparse"),
        (["--relations", "transformer", "--sparse-folder", "corpora/models/pgx_rel", "--end-to-end"], "gold-entity rows only"),
    ],
)
def test_sparse_folder_is_refused_where_it_cannot_apply(argv: list[str], said: str, capsys) -> None:
    with pytest.raises(SystemExit):
        er.main(["--fold", "held", *argv])
    assert said in capsys.readouterr().err
