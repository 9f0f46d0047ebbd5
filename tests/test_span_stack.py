"""The span stack (extract/span_stack.py): its candidates and features, what decoding keeps, that a stack
holding only the vote's own score decides as the vote does on real PGxCorpus test sentences, and the
shipped stack (when adopted) on them; tools/train_span_stack.py's refusals."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from pgxlit.extract.span_stack import SpanStack, candidates, feature_names, features, keep, load_stack
from pgxlit.extract.span_vote import VoteRule, crosses, vote

TYPES = ("Gene_or_protein", "Limited_variation", "Phenotype")


def _column(name: str) -> int:
    return feature_names(TYPES).index(name)


def test_candidates_carry_both_taggers_scores():
    crf = [(0, 6, "Gene_or_protein", 0.97, True), (0, 14, "Limited_variation", 0.35, False)]
    span = [(0, 6, "Gene_or_protein", 0.9), (0, 24, "Phenotype", 0.55)]
    found = candidates(crf, span)
    assert set(found) == {(0, 6, "Gene_or_protein"), (0, 14, "Limited_variation"), (0, 24, "Phenotype")}
    gene = found[(0, 6, "Gene_or_protein")]
    assert (gene.crf, gene.path, gene.marginal, gene.span) == (1.0, 1.0, 0.97, 0.9)
    variant = found[(0, 14, "Limited_variation")]
    assert (variant.crf, variant.path, variant.span) == (0.35, 0.0, 0.0)
    assert found[(0, 24, "Phenotype")].vote(0.4) == pytest.approx(0.6 * 0.55)


def test_features_see_same_type_spans_sharing_an_edge_and_crossing_ones():
    # "polymorphism GABABR1 T1974C": two variant extents sharing the end, and a crossing phenotype
    text = "The polymorphism GABABR1 T1974C altered response"
    outer, inner = (4, 31, "Limited_variation"), (17, 31, "Limited_variation")
    crossing = (25, 40, "Phenotype")
    found = candidates([(*outer, 0.4, False), (*inner, 1.0, True)], [(*inner, 0.8), (*crossing, 0.3)])
    keys, rows = features(text, found, TYPES, 0.4)
    assert rows.shape == (3, len(feature_names(TYPES)))
    row = dict(zip(keys, rows, strict=True))
    inner_vote = 0.4 * 1.0 + 0.6 * 0.8
    assert row[outer][_column("holds_same_type_edge")] == pytest.approx(inner_vote)
    assert row[inner][_column("held_by_same_type_edge")] == pytest.approx(0.4 * 0.4)
    assert row[outer][_column("crossed_by")] == pytest.approx(0.6 * 0.3)
    assert row[inner][_column("type=Limited_variation")] == 1.0 and row[inner][_column("type=Phenotype")] == 0.0
    assert row[inner][_column("width<=2")] == 1.0 and row[outer][_column("width<=3")] == 1.0


def test_keep_never_keeps_crossing_spans_or_two_types_on_one_extent():
    keys = [(0, 10, "Phenotype"), (5, 20, "Phenotype"), (0, 10, "Gene_or_protein"), (0, 4, "Gene_or_protein")]
    probs = np.array([0.9, 0.8, 0.7, 0.2])
    assert keep(keys, probs, 0.3) == [0]
    assert keep(keys, probs, 0.1) == [0, 3]
    assert keep(keys, probs, 0.1, nested=False) == [0]
    assert keep([], np.zeros(0), 0.5) == []


def test_stack_json_round_trip_and_refusals(tmp_path: Path):
    stack = SpanStack(TYPES, 0.4, {"vote": 8.0, "type=Phenotype": -0.5}, -3.2, 0.25)
    assert SpanStack.from_json(json.loads(json.dumps(stack.to_json()))) == stack
    bad = stack.to_json() | {"coef": {"vote": math.inf}}
    with pytest.raises(ValueError, match="finite"):
        SpanStack.from_json(bad)
    assert load_stack(tmp_path) is None
    (tmp_path / "meta.json").write_text(json.dumps({"stack": None, "adopted": False}))
    assert load_stack(tmp_path) is None  # a stack that failed its bar is written but never used
    (tmp_path / "meta.json").write_text(json.dumps({"stack": stack.to_json(), "adopted": True}))
    loaded = load_stack(tmp_path)
    assert loaded is not None and loaded[0] == stack


@pytest.mark.shared
def test_a_stack_of_the_vote_alone_decides_as_the_vote_on_test_sentences(gold: Path):
    """Ten real test-fold sentences tagged by the shipped CRF and span model: a stack whose only weight is
    on the vote column (probability = logistic of k * (vote - threshold)) keeps exactly the vote's spans,
    so candidates, columns and decoding line up with extract/span_vote.py."""
    from pgxlit.extract.benchmarks import predict
    from pgxlit.extract.gold import dev_split, read_pgxcorpus
    from pgxlit.extract.nested_crf import shipped_tagger as shipped_crf
    from pgxlit.extract.pgxcorpus_types import crf_scores
    from pgxlit.extract.span_ner import shipped_tagger as shipped_span

    crf, span = shipped_crf("pgxcorpus"), shipped_span("pgxcorpus")
    if crf is None or span is None:
        pytest.skip("the nested CRF or the span model is not shipped")
    rule = VoteRule(0.4, 0.4)
    stack = SpanStack(tuple(crf.types), rule.weight, {"vote": 60.0}, -60.0 * rule.threshold + 1e-6, 0.5)
    docs = dev_split(read_pgxcorpus(gold / "pgxcorpus"), "test")[:10]
    mentions = {k: v[0] for k, v in predict(docs).items()}
    kept_total = 0
    for d in docs:
        raw = crf.tag_scored(d.text, mentions[d.id], threshold=0.1)
        offered = span.tag_document_scored(d.text, 0.05)
        by_vote = [(v.start, v.end, v.label) for v in vote(crf_scores(raw), offered, rule)]
        by_stack = stack.decide(d.text, raw, offered)
        assert [(v.start, v.end, v.label) for v in by_stack] == by_vote
        assert all(not crosses((a.start, a.end), (b.start, b.end)) for a in by_stack for b in by_stack)
        kept_total += len(by_vote)
    assert kept_total >= 20


@pytest.mark.shared
def test_shipped_stack_types_test_sentences_and_was_adopted_by_its_bar(gold: Path):
    """corpora/models/pgxcorpus_stack, when adopted: the bar it records was met leaving one part out, and
    through `scheme_ner=stack` it types five real test-fold sentences with no crossing spans, each on
    its own text, the same way twice."""
    from pgxlit.extract.benchmarks import predict
    from pgxlit.extract.gold import dev_split, read_pgxcorpus
    from pgxlit.extract.pgxcorpus_types import VoteTyper, shipped_typer, stack_dir

    found = load_stack(stack_dir("pgxcorpus"))
    if found is None:
        pytest.skip("no adopted PGxCorpus span stack shipped")
    meta = found[1]
    pooled = meta["pooled"]
    assert meta["adopted"] and pooled["gain"] >= meta["min_gain"] and pooled["mean_part_gain"] >= meta["min_gain"]
    assert min(r["gain"] for r in meta["leave_one_part_out"]) >= -meta["max_loss"]
    assert len(meta["leave_one_part_out"]) >= 3
    typer = shipped_typer("pgxcorpus", "stack")
    assert isinstance(typer, VoteTyper) and typer.stack is not None
    docs = dev_split(read_pgxcorpus(gold / "pgxcorpus"), "test")[:5]
    predicted = predict(docs)
    for d in docs:
        typed, _ = typer.retype(d.text, predicted[d.id][0], predicted[d.id][1])
        assert typed and all(m.text == d.text[m.start:m.end] and m.label in typer.classes[1:] for m in typed)
        assert all(not crosses((a.start, a.end), (b.start, b.end)) for a in typed for b in typed)
        assert typer.retype(d.text, predicted[d.id][0])[0] == typed


def test_the_trainer_refuses_too_few_parts_and_a_span_model_of_another_part():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import train_span_stack

    with pytest.raises(SystemExit, match="three distinct"):
        train_span_stack.main(["--out", "/nonexistent/stack", "--part", "0:/a:/b", "--part", "1:/c:/d"])
    fold = "train (extract.gold.dev_split); a fifth by document id (part 2) held back for the epoch and the threshold"
    assert train_span_stack.span_held_part({"data": {"fold": fold}}) == 2
    assert train_span_stack.span_held_part({"data": {"fold": fold.replace(" (part 2)", "")}}) == 0
    assert train_span_stack.span_held_part({"data": {"fold": "the whole train fold"}}) is None
    assert train_span_stack.parse_part("3:/a:/b") == (3, Path("/a"), Path("/b"))
    for bad in ("0:/only-one-folder", "zero:/a:/b"):
        with pytest.raises(argparse.ArgumentTypeError, match="K:CRF_FOLDER:SPAN_FOLDER"):
            train_span_stack.parse_part(bad)
