"""The MiniLM span model (extract/span_ner.py): decoding, inputs, and the shipped models' figures
on the test folds (nothing is trained here; the test fold is only read)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pgxlit.extract.gold import dev_split, read_pgxcorpus
from pgxlit.extract.span_ner import NONE, SCHEMES, decode, default_model_dir, split_sentences, words_of
from pgxlit.records import Mention, RelationMention

CLASSES = (NONE, "Gene_or_protein", "Limited_variation", "Chemical")
EXPECTED = Path(__file__).resolve().parents[1] / "extract" / "expected"


def _probs(rows: list[dict[str, float]]) -> np.ndarray:
    out = np.zeros((len(rows), len(CLASSES)), dtype=np.float32)
    for i, row in enumerate(rows):
        for c, p in row.items():
            out[i, CLASSES.index(c)] = p
        out[i, 0] = 1.0 - out[i].sum()
    return out


def test_decode_keeps_nested_spans_and_refuses_crossing_ones():
    # "CYP3A5 polymorphisms alter" : [0,6) gene, [0,20) variation, [7,26) crosses the variation
    cands = [(0, 6), (0, 20), (7, 26), (21, 26)]
    probs = _probs([{"Gene_or_protein": 0.9}, {"Limited_variation": 0.8}, {"Chemical": 0.7}, {"Chemical": 0.2}])
    kept = decode(cands, probs, CLASSES, 0.5, nested=True)
    assert [(s, e, t) for s, e, t, _ in kept] == [(0, 20, "Limited_variation"), (0, 6, "Gene_or_protein")]
    flat = decode(cands, probs, CLASSES, 0.5, nested=False)  # no nesting: the gene wins, the span after it stays
    assert [(s, e, t) for s, e, t, _ in flat] == [(0, 6, "Gene_or_protein"), (7, 26, "Chemical")]
    assert decode(cands, probs, CLASSES, 0.95, nested=True) == []
    assert decode([], np.zeros((0, len(CLASSES))), CLASSES, 0.5, nested=True) == []


def test_decode_needs_the_type_to_beat_none():
    probs = np.array([[0.5, 0.3, 0.1, 0.1]], dtype=np.float32)  # NONE wins even under a low threshold
    assert decode([(0, 4)], probs, CLASSES, 0.2, nested=True) == []


def test_sentences_never_cut_a_gold_span_and_cover_the_text():
    text = "CYP2D6 was typed (n = 3). Poor metabolizers. E. coli grew. The dose fell."
    cuts = split_sentences(text)
    assert [text[s:e] for s, e in cuts] == ["CYP2D6 was typed (n = 3).", "Poor metabolizers.", "E. coli grew.",
                                            "The dose fell."]
    held = split_sentences(text, keep_whole=[(19, 34)])  # a span over the first cut keeps it whole
    assert text[held[0][0]:held[0][1]].endswith("metabolizers.")


def test_scheme_words_put_edges_where_the_corpora_do():
    pgx = SCHEMES["pgxcorpus"]
    biored = SCHEMES["biored"]
    text = "5-fluorouracil-induced toxicity"
    assert [text[s:e] for s, e in words_of(text, pgx.token_pattern)] == ["5-fluorouracil-induced", "toxicity"]
    assert [text[s:e] for s, e in words_of(text, biored.token_pattern)][:3] == ["5", "-", "fluorouracil"]
    assert pgx.nested and not pgx.split and biored.split and not biored.nested


# ---- the shipped models on the test folds (../shared/gold) ------------------------------


def _shipped(scheme: str):
    from pgxlit.extract.span_ner import shipped_tagger

    tagger = shipped_tagger(scheme)
    if tagger is None:
        pytest.skip(f"no span model shipped in {default_model_dir(scheme)}")
    return tagger


def _check_expected(name: str, scheme_scores: dict) -> None:
    from pgxlit.extract.evaluate import compare_to_expected

    assert compare_to_expected({name: scheme_scores}, EXPECTED / "span_ner.test.json") == []


@pytest.mark.shared
def test_pgxcorpus_span_model_on_the_test_fold(gold: Path):
    """Exact-span entity figures of the shipped model in PGxCorpus's ten types, as
    extract/expected/span_ner.test.json records them (tolerance 0.02)."""
    from pgxlit.extract.evaluate import score_entities

    tagger = _shipped("pgxcorpus")
    test = dev_split(read_pgxcorpus(gold / "pgxcorpus"), "test")
    assert len(test) == 138
    found = tagger.tag([d.text for d in test])
    scores = score_entities(test, {d.id: ms for d, ms in zip(test, found)}, lambda label: label)
    assert all(m.label in tagger.types and m.text == d.text[m.start:m.end] for d, ms in zip(test, found) for m in ms)
    _check_expected("pgxcorpus", scores.to_dict())


@pytest.mark.shared
def test_span_typer_carries_ids_and_relations_onto_its_spans():
    """The span model behind the typer's contract: rule ids follow onto spans of the same kind,
    relations move with their mentions and are re-judged by the relation step."""
    from pgxlit.extract.annotate import annotate_lines
    from pgxlit.extract.pgxcorpus_types import SpanTyper

    typer = SpanTyper(_shipped("pgxcorpus"))
    text = "The CYP2C19*2 allele reduced the antiplatelet response to clopidogrel in patients ."
    rules = [Mention(4, 13, "ALLELE", "CYP2C19*2", norm="CYP2C19*2", kind="star_allele"),
             Mention(58, 69, "DRUG", "clopidogrel", norm="PA449053|clopidogrel")]
    typed, carried = typer.retype(text, rules, [RelationMention(0, 1, "influences")])
    by_text = {m.text: m for m in typed}
    assert by_text["clopidogrel"].label == "Chemical" and by_text["clopidogrel"].norm == "PA449053|clopidogrel"
    assert any(m.label == "Haplotype" and "CYP2C19*2" in m.text for m in typed)
    assert [(typed[r.head].label, typed[r.tail].label, r.type) for r in carried] == [
        ("Haplotype", "Chemical", "influences")]
    [line] = annotate_lines([json.dumps({"id": 1, "text": text})], "pgxcorpus")
    out = json.loads(line)
    assert {e["label"] for e in out["entities"]} >= {"Haplotype", "Chemical"}
    assert all(0 <= r["head"] < len(out["entities"]) and 0 <= r["tail"] < len(out["entities"]) for r in out["relations"])


def test_a_span_model_offers_nested_spans_or_flat_ones_when_asked():
    """`nested` overrides the scheme's decoding (a flat scheme's alternatives for a vote): flat never
    overlaps, nested never crosses, and the default is the scheme's own."""
    from pgxlit.extract.span_vote import crosses

    tagger = _shipped("pgxcorpus")
    texts = ["The CYP2C19*2 allele reduced the antiplatelet response to clopidogrel in patients with "
             "coronary artery disease .", "CYP2D6 poor metabolizers had higher plasma concentrations of tamoxifen ."]
    flat = tagger.tag_scored(texts, threshold=0.05, nested=False)
    nested = tagger.tag_scored(texts, threshold=0.05, nested=True)
    default = tagger.tag_scored(texts, threshold=0.05)  # PGxCorpus nests: the same spans, the same scores
    assert [[x[:3] for x in spans] for spans in default] == [[x[:3] for x in spans] for spans in nested]
    # two forward passes may differ in the last float bits when torch's kernels split work differently under load
    assert [x[3] for spans in default for x in spans] == pytest.approx([x[3] for spans in nested for x in spans], abs=1e-5)
    for spans in flat:
        assert all(not (a[0] < b[1] and b[0] < a[1]) for i, a in enumerate(spans) for b in spans[i + 1:])
    for spans in nested:
        assert all(not crosses(a[:2], b[:2]) for a in spans for b in spans)
    assert sum(map(len, nested)) >= sum(map(len, flat)) > 0


def test_whole_train_fold_refit_refuses_to_run_without_the_settings_chosen_before():
    """A refit on the whole train fold has nothing held back, so it must be told the threshold and
    the run that chose it; the tool stops before reading any data when either is missing."""
    import subprocess
    import sys

    tool = Path(__file__).resolve().parents[1] / "tools" / "train_span_ner.py"
    done = subprocess.run([sys.executable, str(tool), "--scheme", "pgxcorpus", "--out", "/nonexistent",
                           "--whole-train-fold", "--threshold", "0.6"], capture_output=True, text=True)
    assert done.returncode == 2 and "--chosen-by" in done.stderr


@pytest.mark.parametrize("scheme", ["pgxcorpus", "biored"])
def test_shipped_span_models_say_how_they_were_fitted(scheme: str):
    """Both shipped span models are refits on the whole train fold: their meta names the fit data,
    the held-back run that chose the learning rate, epoch and threshold, and the gold's licence."""
    meta_path = default_model_dir(scheme) / "meta.json"
    if not meta_path.is_file():
        pytest.skip(f"no span model shipped in {meta_path.parent}")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    chooser = meta["chosen_by"]
    assert meta["scheme"] == scheme and meta["model"]["nested"] is (scheme == "pgxcorpus")
    assert meta["data"]["held_back_sentences"] == 0 and meta["data"]["fit_sentences"] > chooser["data"]["fit_sentences"]
    assert meta["model"]["threshold"] == chooser["model"]["threshold"]
    assert meta["training"]["lr"] == chooser["training"]["lr"]
    assert meta["training"]["epochs_run"] == chooser["training"]["best_epoch"]
    assert chooser["figures"]["held_back_exact_macro_f1"] > 0
    assert ("BioRED" if scheme == "biored" else "PGxCorpus") in meta["licence"]


def test_transfer_starts_the_encoder_from_another_scheme_and_leaves_the_head_fresh(tmp_path: Path):
    """A PGxCorpus span net starts its six fine-tuned layers from the shipped BioRED span model; its head
    does not (another scheme, other classes); a folder that fine-tuned another number of layers is refused."""
    import torch
    from safetensors.torch import load_file, save_file

    from pgxlit.extract.encoder import transfer_upper_layers
    from pgxlit.extract.span_ner import build_net

    source = default_model_dir("biored")
    n_upper = json.loads((source / "meta.json").read_text(encoding="utf-8"))["model"]["n_upper"]
    net = build_net(len(SCHEMES["pgxcorpus"].classes), 15, n_upper)
    head_before = {k: v.clone() for k, v in net.state_dict().items() if k.startswith("head.")}
    loaded = transfer_upper_layers(net, source, n_upper)
    assert loaded["scheme"] == "biored" and loaded["licence"] and loaded["tensors"] > 0
    theirs = load_file(str(next(source.glob("*.safetensors"))))
    mine = net.state_dict()
    uppers = [k for k in mine if k.startswith("upper.")]
    assert uppers and all(torch.equal(mine[k], theirs[k].float()) for k in uppers)
    assert all(torch.equal(mine[k], v) for k, v in head_before.items())

    fewer = tmp_path / "two_layers"
    fewer.mkdir()
    meta = json.loads((source / "meta.json").read_text(encoding="utf-8"))
    meta["model"]["n_upper"] = 2
    (fewer / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    save_file({k: v for k, v in theirs.items() if k.startswith("upper.0.")}, str(fewer / "weights.safetensors"))
    with pytest.raises(ValueError, match="fine-tuned 2 MiniLM layers, not 6"):
        transfer_upper_layers(net, fewer, n_upper)
    meta["model"]["n_upper"] = n_upper  # says six, holds one: refused too
    (fewer / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ValueError, match="lacks"):
        transfer_upper_layers(net, fewer, n_upper)


def test_the_train_fold_splits_into_five_disjoint_held_back_parts(gold: Path):
    """PGxCorpus's train fold (its real sentence ids): the five parts cover it once each."""
    from pgxlit.extract.gold_folds import held_back

    ids = [d.id for d in dev_split(read_pgxcorpus(gold / "pgxcorpus"), "train")]
    parts = [{i for i in ids if held_back(i, part)} for part in range(5)]
    assert parts[0] == {i for i in ids if held_back(i)}  # part 0 is the one settings were chosen on
    assert sum(len(p) for p in parts) == len(ids) and set().union(*parts) == set(ids)
    assert all(0.1 < len(p) / len(ids) < 0.3 for p in parts)
