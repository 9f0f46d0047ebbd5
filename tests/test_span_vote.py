"""The vote of two entity taggers (extract/span_vote.py): what it keeps, what it never keeps, and the
shipped CRF and span model voted on real PGxCorpus test sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgxlit.extract.span_vote import VoteRule, Voted, crosses, vote


def _spans(kept: list[Voted]) -> list[tuple[int, int, str]]:
    return [(k.start, k.end, k.label) for k in kept]


def test_a_span_both_taggers_give_beats_one_either_gives_alone():
    # "CYP2D6 poor metabolizers": the CRF's gene, the span model's phenotype holding it, and a guess of each
    crf = [(0, 6, "Gene_or_protein", 1.0), (7, 24, "Phenotype", 0.3)]
    span = [(0, 6, "Gene_or_protein", 0.9), (0, 24, "Phenotype", 0.55), (7, 11, "Chemical", 0.4)]
    rule = VoteRule(weight=0.5, threshold=0.4)
    kept = vote(crf, span, rule)
    assert _spans(kept) == [(0, 6, "Gene_or_protein")]  # 0.95; the rest lack a second voice
    assert kept[0].agreed and kept[0].vote == pytest.approx(0.95)
    low = vote(crf, span, VoteRule(weight=0.5, threshold=0.15))
    assert _spans(low) == [(0, 24, "Phenotype"), (0, 6, "Gene_or_protein"), (7, 24, "Phenotype"), (7, 11, "Chemical")]
    assert all(not crosses((a.start, a.end), (b.start, b.end)) for a in low for b in low)


def test_crossing_spans_never_survive_and_the_better_voted_stays():
    first = [(0, 10, "Disease", 1.0), (5, 20, "Phenotype", 1.0)]
    second = [(5, 20, "Phenotype", 0.8)]
    kept = vote(first, second, VoteRule(weight=0.5, threshold=0.3))
    assert _spans(kept) == [(5, 20, "Phenotype")]


def test_one_type_per_extent_unless_asked_otherwise():
    first = [(0, 7, "Chemical", 1.0)]
    second = [(0, 7, "Gene_or_protein", 0.9)]
    assert _spans(vote(first, second, VoteRule(0.5, 0.4))) == [(0, 7, "Chemical")]
    both = vote(first, second, VoteRule(0.5, 0.4, one_type_per_extent=False))
    assert _spans(both) == [(0, 7, "Chemical"), (0, 7, "Gene_or_protein")]
    with pytest.raises(ValueError):
        VoteRule(weight=1.5)
    assert VoteRule.from_json(VoteRule(0.6, 0.35, False).to_json()) == VoteRule(0.6, 0.35, False)


@pytest.mark.shared
def test_shipped_taggers_voted_on_test_sentences(gold: Path):
    """Eight real test-fold sentences: no crossing spans, every span both taggers give with a vote over
    the threshold survives unless a better-voted span crosses it or holds its extent, same output twice."""
    from pgxlit.extract.benchmarks import predict
    from pgxlit.extract.gold import dev_split, read_pgxcorpus
    from pgxlit.extract.nested_crf import shipped_tagger as shipped_crf
    from pgxlit.extract.pgxcorpus_types import crf_scores, vote_dir
    from pgxlit.extract.span_ner import shipped_tagger as shipped_span
    from pgxlit.extract.span_vote import load_rule

    crf, span = shipped_crf("pgxcorpus"), shipped_span("pgxcorpus")
    if crf is None or span is None:
        pytest.skip("the nested CRF or the span model is not shipped")
    rule = load_rule(vote_dir())[0] if (vote_dir() / "meta.json").is_file() and \
        '"rule": null' not in (vote_dir() / "meta.json").read_text() else VoteRule(0.5, 0.5)
    docs = dev_split(read_pgxcorpus(gold / "pgxcorpus"), "test")[:8]
    mentions = {k: v[0] for k, v in predict(docs).items()}
    both_seen = 0
    for d in docs:
        first = crf_scores(crf.tag_scored(d.text, mentions[d.id], threshold=0.1))
        second = span.tag_document_scored(d.text, threshold=0.05)
        kept = vote(first, second, rule)
        assert kept == vote(first, second, rule)
        assert all(not crosses((a.start, a.end), (b.start, b.end)) for a in kept for b in kept)
        assert all(k.label in crf.types and 0 <= k.start < k.end <= len(d.text) for k in kept)
        second_at = {(s, e, lab): p for s, e, lab, p in second}
        for s, e, lab, p in first:
            q = second_at.get((s, e, lab))
            if q is None or rule.weight * p + (1 - rule.weight) * q < rule.threshold:
                continue
            both_seen += 1
            v = rule.weight * p + (1 - rule.weight) * q
            survives = (s, e, lab) in _spans(kept)
            beaten = any(k.vote >= v - 1e-6 and (crosses((s, e), (k.start, k.end)) or (k.start, k.end) == (s, e))
                         for k in kept)
            assert survives or beaten
    assert both_seen >= 8  # the taggers agree on most names in eight sentences


def test_a_flat_rule_keeps_no_two_overlapping_spans():
    # "BRCA1 mutation carriers": the CRF's gene inside the span model's variant; a flat scheme keeps one
    crf = [(0, 5, "GeneOrGeneProduct", 1.0)]
    span = [(0, 14, "SequenceVariant", 0.7), (0, 5, "GeneOrGeneProduct", 0.6), (15, 23, "Disease", 0.5)]
    nested = vote(crf, span, VoteRule(0.5, 0.3))
    assert _spans(nested) == [(0, 14, "SequenceVariant"), (0, 5, "GeneOrGeneProduct")]
    flat = vote(crf, span, VoteRule(0.5, 0.2, nested=False))
    assert _spans(flat) == [(0, 5, "GeneOrGeneProduct"), (15, 23, "Disease")]  # 0.8 beats 0.35, then the rest
    assert all(not (a.start < b.end and b.start < a.end) for a in flat for b in flat if a is not b)
    # the span model's variant wins when the CRF weighs less and its own gene is unsure
    assert _spans(vote(crf, [(0, 14, "SequenceVariant", 0.9)], VoteRule(0.2, 0.2, nested=False))) == [
        (0, 14, "SequenceVariant")]


def test_a_rule_written_before_flat_schemes_reads_as_nested():
    old = {"weight": 0.4, "threshold": 0.4, "one_type_per_extent": True}  # corpora/models/pgxcorpus_vote's keys
    assert VoteRule.from_json(old) == VoteRule(0.4, 0.4, True, True)
    assert VoteRule.from_json(VoteRule(0.3, 0.5, True, False).to_json()).nested is False


def test_the_chooser_tries_flat_rules_for_a_flat_scheme_and_needs_the_fit_part_tagger(tmp_path: Path):
    """tools/choose_span_vote.py: a flat scheme's grid holds only flat rules (one type per extent is implied),
    a nested scheme's both extent choices; a fit-part copy of a CRF that reads a token tagger is refused
    without the fit-part tagger and its out-of-fold probabilities (else the CRF would read in-sample ones)."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import choose_span_vote

    flat = choose_span_vote.rules_grid(False)
    nested = choose_span_vote.rules_grid(True)
    assert flat and all(not r.nested and r.one_type_per_extent for r in flat)
    assert len(nested) == 2 * len(flat) and all(r.nested for r in nested)
    shipped = tmp_path / "biored_crf"
    shipped.mkdir()
    (shipped / "meta.json").write_text(json.dumps({
        "types": ["ChemicalEntity"], "features": {"token_tagger": "biored_tagger", "second_pass": True},
        "settings": {"c1": 0.05, "c2": 0.05, "max_iterations": 5}}))
    with pytest.raises(SystemExit, match="--tagger-fit"):
        choose_span_vote.fit_part_flat_crf(tmp_path / "fit", shipped, [], {}, None, [])
    assert not (tmp_path / "fit").exists()


@pytest.mark.shared
def test_shipped_biored_vote_keeps_flat_spans_on_test_abstracts(gold: Path):
    """BioRED's vote (flat CRF + span model, corpora/models/biored_vote): on five real test-fold abstracts
    no two kept spans overlap, every span is one of the four types on its own text, the rule is a flat
    one, and the same abstract gives the same spans twice."""
    from pgxlit.extract.benchmarks import predict
    from pgxlit.extract.gold import dev_split, read_biored
    from pgxlit.extract.pgxcorpus_types import VoteTyper, shipped_typer, vote_dir

    if not (vote_dir("biored") / "meta.json").is_file():
        pytest.skip("no BioRED vote shipped")
    typer = shipped_typer("biored", "vote")
    assert isinstance(typer, VoteTyper) and typer.rule.nested is False
    docs = dev_split([d for f in sorted((gold / "biored").glob("*.PubTator")) for d in read_biored(f)], "test")[:5]
    predicted = predict(docs)
    for d in docs:
        typed, _ = typer.retype(d.text, predicted[d.id][0], predicted[d.id][1])
        assert typed and all(m.label in typer.classes[1:] and m.text == d.text[m.start:m.end] for m in typed)
        assert all(not (a.start < b.end and b.start < a.end) for i, a in enumerate(typed) for b in typed[i + 1:])
        assert typer.retype(d.text, predicted[d.id][0])[0] == typed


def test_shipped_biored_vote_was_adopted_by_its_bar():
    """corpora/models/biored_vote/meta.json: a flat rule, adopted only because it beat the fit-part CRF on the
    held-back fifth by the bar it records, with every row it was chosen from."""
    import json

    from pgxlit.extract.pgxcorpus_types import vote_dir

    meta_file = vote_dir("biored") / "meta.json"
    if not meta_file.is_file():
        pytest.skip("no BioRED vote shipped")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    assert meta["adopted"] and meta["rule"]["nested"] is False
    base, best = meta["baseline"]["held_back"]["exact_macro_f1"], meta["best"]["held_back"]["exact_macro_f1"]
    assert best - base >= meta["min_gain"] and meta["gain"] == pytest.approx(best - base, abs=1e-4)
    rows = meta["held_back_rows"]
    assert max(r["held_back"]["exact_macro_f1"] for r in rows) == best and len(rows) > 100
