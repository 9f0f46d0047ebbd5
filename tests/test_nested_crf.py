"""The nested CRF tagger (extract/nested_crf.py): levels that hold PGxCorpus's nested gold spans,
upper levels that read the lower ones, deterministic training, and the shipped model on real
sentences (the test fold is only read)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pgxlit.extract.crf_ner import spans_of, tags_of, tokens_of
from pgxlit.extract.gold import GoldDoc, dev_split, read_pgxcorpus
from pgxlit.extract.nested_crf import layers_of, level_of, shipped_tagger, stack_features
from pgxlit.extract.pgxcorpus_types import PGXCORPUS_TYPES
from pgxlit.records import Mention, RelationMention

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _train_fold(gold: Path) -> list[GoldDoc]:
    return dev_split(read_pgxcorpus(gold / "pgxcorpus"), "train")


def _spans(d: GoldDoc) -> list[tuple[int, int, str]]:
    return sorted({(e.start, e.end, e.label) for e in d.entities if e.label in PGXCORPUS_TYPES})


def test_levels_count_what_a_span_holds():
    #            0         1         2         3
    #            0123456789012345678901234567890123
    text = "CYP2D6 poor metabolizers of codeine"
    spans = [(0, 6, "Gene_or_protein"), (0, 24, "Pharmacokinetic_phenotype"), (28, 35, "Chemical"),
             (0, 35, "Pharmacokinetic_phenotype"), (0, 6, "Genomic_factor")]
    assert level_of(spans) == [0, 1, 0, 2, 0]  # a span of the same extent is not held
    assert layers_of(spans, 2) == [[(0, 6, "Gene_or_protein"), (0, 6, "Genomic_factor"), (28, 35, "Chemical")],
                                   [(0, 24, "Pharmacokinetic_phenotype"), (0, 35, "Pharmacokinetic_phenotype")]]
    tokens = tokens_of(text)
    stack = stack_features(tokens, [(0, 6, "Gene_or_protein")])
    assert "L=B-Gene_or_protein" in stack[0] and "L=E-Gene_or_protein" in stack[0]
    assert stack[1] == ["L=O", "-1L=B-Gene_or_protein", "-1L=E-Gene_or_protein", "+1L=O"]


@pytest.mark.shared
def test_levels_hold_the_nested_gold_of_the_train_fold(gold: Path):
    """Round trip gold -> levels -> BIO tags -> spans on every train-fold sentence: one flat layer holds
    57.6 % of the spans, two levels 92.9 %, three 98.4 %; no gold edge falls inside a token."""
    docs = _train_fold(gold)
    assert len(docs) == 491
    kept = {1: 0, 2: 0, 3: 0}
    total = nested = 0
    for d in docs:
        tokens = tokens_of(d.text)
        starts, ends = {s for s, _ in tokens}, {e for _, e in tokens}
        spans = _spans(d)
        assert all(s in starts and e in ends for s, e, _ in spans)
        total += len(spans)
        nested += any(level_of(spans))
        for n in kept:
            for layer in layers_of(spans, n):
                kept[n] += len(set(spans_of(tokens, tags_of(tokens, layer))) & set(layer))
    assert total == 3410
    assert nested > 200  # most sentences hold at least one nested span
    assert [round(kept[n] / total, 3) for n in (1, 2, 3)] == [0.576, 0.929, 0.984]


@pytest.mark.shared
def test_training_is_deterministic(gold: Path, tmp_path: Path):
    """The same sentences and settings give byte-identical level models (a tiny real subset)."""
    sys.path.insert(0, str(TOOLS))
    from train_pgxcorpus_crf import features_of, fit_levels, jackknife, tag_levels

    from pgxlit.extract.nested_crf import NestedSettings

    docs = _train_fold(gold)[:40]
    settings = NestedSettings(layers=2, window=2, use_gazetteer=True)
    xs = features_of(docs, {d.id: [] for d in docs}, settings, jackknife(docs))
    files = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        paths = fit_levels(docs, xs, 2, 0.1, 0.1, 15, tmp_path / run)
        files.append([p.read_bytes() for p in paths])
        found = tag_levels(paths, docs, xs)
    assert files[0] == files[1]
    assert sum(map(len, found)) > 0


def _shipped():
    tagger = shipped_tagger("pgxcorpus")
    if tagger is None:
        pytest.skip("no nested CRF model shipped in corpora/models/pgxcorpus_crf (or python-crfsuite missing)")
    return tagger


def test_shipped_model_tags_nested_entities_and_keeps_rule_ids():
    from pgxlit.extract.pgxcorpus_types import CrfTyper, shipped_typer

    tagger = _shipped()
    assert tagger.types == PGXCORPUS_TYPES and "train fold" in tagger.meta["data"]
    text = "CYP2C19 poor metabolizers had a reduced response to clopidogrel ."
    rules = [Mention(0, 7, "GENE", "CYP2C19", norm="HGNC:2621", kind="symbol", source="lexicon"),
             Mention(0, 25, "PHENOTYPE", "CYP2C19 poor metabolizers", kind="metabolizer", source="rule"),
             Mention(52, 63, "DRUG", "clopidogrel", norm="PA449053|clopidogrel", kind="name", source="lexicon")]
    typed, carried = CrfTyper(tagger).retype(text, rules, [RelationMention(0, 2, "influences")])
    by_text = {m.text: m for m in typed}
    assert by_text["CYP2C19"].label == "Gene_or_protein" and by_text["CYP2C19"].norm == "HGNC:2621"
    assert by_text["clopidogrel"].label == "Chemical"
    # nested output: a phenotype holding the gene or the drug
    assert any(o is not m and o.start <= m.start and m.end <= o.end for o in typed for m in typed), typed
    assert all(m.text == text[m.start:m.end] for m in typed)
    assert isinstance(shipped_typer("pgxcorpus", "crf"), CrfTyper)


@pytest.mark.shared
def test_shipped_model_on_the_test_fold(gold: Path):
    """Exact-span figures on the PGxCorpus test fold as the model's meta.json records them (tolerance
    0.02), with nested spans among the output."""
    from pgxlit.extract.benchmarks import predict
    from pgxlit.extract.evaluate import score_entities

    tagger = _shipped()
    test = dev_split(read_pgxcorpus(gold / "pgxcorpus"), "test")
    assert len(test) == 138
    mentions = {k: v[0] for k, v in predict(test).items()}
    found = {d.id: tagger.tag(d.text, mentions[d.id]) for d in test}
    assert all(m.label in PGXCORPUS_TYPES and m.text == d.text[m.start:m.end] for d in test for m in found[d.id])
    assert sum(any(level_of([(m.start, m.end, m.label) for m in ms])) for ms in found.values()) > 20
    scores = score_entities(test, found, lambda label: label if label in PGXCORPUS_TYPES else None)
    expected = tagger.meta["figures"]["test"]
    assert abs(scores.exact.macro.f1 - expected["exact_macro_f1"]) <= 0.02
    assert abs(scores.overlap.macro.f1 - expected["overlap_macro_f1"]) <= 0.02


def test_marginal_spans_add_what_the_viterbi_path_left_out(tmp_path: Path):
    """A real tiny CRF that tags "amb" as a type in 30 % of its training sequences: the Viterbi path
    leaves it out, its marginal (about 0.3) brings it back under a low threshold and not under a high
    one; a candidate that crosses a kept span of the level is not kept, one nested in it is."""
    pycrfsuite = pytest.importorskip("pycrfsuite")
    from pgxlit.extract.nested_crf import crosses, marginal_spans, tag_level

    trainer = pycrfsuite.Trainer(verbose=False)
    for n in range(20):
        x = [[f"w={w}"] for w in ("the", "amb", "gene", "x1")]
        y = ["O", "B-Gene" if n % 10 < 3 else "O", "O", "B-Chem"]
        trainer.append(x, y)
        trainer.append([[f"w={w}"] for w in ("amb", "gene", "drug")], ["O", "B-Chem", "I-Chem"])
    trainer.set_params({"c1": 0.0, "c2": 0.01, "max_iterations": 100, "feature.possible_transitions": True})
    trainer.train(str(tmp_path / "m.crfsuite"))
    tagger = pycrfsuite.Tagger()
    tagger.open(str(tmp_path / "m.crfsuite"))
    text = "the amb gene x1"
    tokens = tokens_of(text)
    viterbi, extra = tag_level(tagger, tokens, [[f"w={text[s:e]}"] for s, e in tokens], None)
    assert viterbi == [(13, 15, "Chem")] and extra == []
    p = tagger.marginal("B-Gene", 1)
    assert 0.15 < p < 0.45
    assert marginal_spans(tagger, tokens, viterbi, 0.1) == [(4, 7, "Gene")]
    assert marginal_spans(tagger, tokens, viterbi, 0.6) == []
    for kept, added in (([(0, 7, "Chem")], [(4, 7, "Gene")]),  # nested in a kept span: kept
                        ([(4, 7, "Chem")], [(4, 7, "Gene")]),  # same extent, another type: kept
                        ([(6, 12, "Chem")], [])):  # crosses a kept span: left out
        assert marginal_spans(tagger, tokens, [*kept, (13, 15, "Chem")], 0.1) == added
    assert crosses((0, 5), (3, 8)) and not crosses((0, 8), (3, 5)) and not crosses((0, 3), (3, 5))
