"""Gold-corpus readers (extract.gold) and scoring (extract.evaluate).

Hand-made cases and the 2-sentence BRAT fixture run everywhere; the checks
on the real DEV corpora use ../shared/gold and skip when it is absent.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pgxlit.extract.annotate import annotate_lines
from pgxlit.extract.evaluate import (
    BIORED_TO_PGXLIT,
    PGXCORPUS_TO_PGXLIT,
    PGXLIT_TO_BIORED,
    PGXLIT_TO_PGXCORPUS,
    PUBTATOR_TO_PGXLIT,
    compare_to_expected,
    format_table,
    gold_as_predictions,
    score_entities,
    score_relations,
    to_mentions,
)
from pgxlit.extract.gold import (
    GoldDoc,
    GoldEntity,
    GoldRelation,
    dev_split,
    read_biored,
    read_brat,
    read_pgxcorpus,
    read_pgxcorpus_pubtator_auto,
    read_pgxmine,
    split_group,
)
from pgxlit.records import ENTITY_LABELS, Mention, ParseError, RelationMention

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gold"
EXPECTED_BASELINE = FIXTURES / "pubtator_auto_baseline.expected.json"
IDENTITY = lambda label: label  # noqa: E731  gold docs below are labelled in pgxlit labels already


# ---- helpers ---------------------------------------------------------------


def ent(eid: str, text: str, start: int, end: int, label: str, spans=None) -> GoldEntity:
    spans = tuple(spans) if spans else ((start, end),)
    return GoldEntity(eid, start, end, label, " ".join(text[s:e] for s, e in spans), spans)


def men(text: str, start: int, end: int, label: str) -> Mention:
    return Mention(start, end, label, text[start:end])


def assert_entity_texts(doc: GoldDoc) -> None:
    for e in doc.entities:
        assert e.start == min(s for s, _ in e.spans) and e.end == max(x for _, x in e.spans)
        assert e.text == " ".join(doc.text[s:x] for s, x in e.spans), (doc.id, e)
        if len(e.spans) == 1:
            assert e.text == doc.text[e.start : e.end]


# ---- BRAT reader on the fixture -----------------------------------------------


def test_read_pgxcorpus_fixture():
    docs = read_pgxcorpus(FIXTURES / "pgxcorpus")
    assert [d.id for d in docs] == ["10070957_8", "18382665_13"]
    d1, d2 = docs
    assert len(d1.entities) == 14 and len(d1.relations) == 6
    assert len(d2.entities) == 6 and len(d2.relations) == 2
    for d in docs:
        assert_entity_texts(d)
    # discontinuous "116 125;73 82": extent 73..125, fragments kept in file order
    t10 = d1.entity("T10")
    assert (t10.start, t10.end, t10.spans) == (73, 125, ((116, 125), (73, 82)))
    assert t10.text == "estradiol levels of" and t10.discontinuous
    assert t10.label == "Pharmacodynamic_phenotype"
    # trailing space written after entity text in the .ann is not part of the entity
    assert d1.entity("T1").text == "A2/A2 genotype"
    assert d1.relations[0] == GoldRelation("T1", "T10", "increases")
    # "#1 AnnotatorNotes R2 neg"
    r1, r2 = d2.relations
    assert (r1.negated, r1.hedged, r1.note) == (False, False, None)
    assert (r2.head, r2.tail, r2.type, r2.negated, r2.hedged, r2.note) == ("T3", "T5", "isAssociatedWith", True, False, "neg")
    assert Counter(e.label for e in d2.entities) == {
        "Gene_or_protein": 2, "Limited_variation": 1, "Haplotype": 1,
        "Pharmacokinetic_phenotype": 1, "Genomic_factor": 1,
    }


def test_brat_notes_and_errors():
    text = "CYP2D6 may not affect codeine"
    ann = (
        "T1\tGene_or_protein 0 6\tCYP2D6\nT2\tChemical 22 29\tcodeine\n"
        "R1\tinfluences Arg1:T1 Arg2:T2\t\nR2\tisAssociatedWith Arg1:T1 Arg2:T2\t\n"
        "R3\tinfluences Arg1:T2 Arg2:T1\t\nR4\tcauses Arg1:T2 Arg2:T1\t\nR5\ttreats Arg1:T2 Arg2:T1\t\n"
        "#1\tAnnotatorNotes R1\thyp neg\n#2\tAnnotatorNotes R2\tHypo\n#3\tAnnotatorNotes R3\tNot\n"
        "#4\tAnnotatorNotes R4\tnot in this cohort\n"
    )
    doc = read_brat("x", text, ann)
    flags = [(r.negated, r.hedged) for r in doc.relations]
    # free text that merely contains "not" sets no flag; the note is kept
    assert flags == [(True, True), (False, True), (True, False), (False, False), (False, False)]
    assert doc.relations[3].note == "not in this cohort"
    with pytest.raises(ParseError, match="entity text"):
        read_brat("x", text, "T1\tGene_or_protein 0 6\tCYP2C9\n")
    with pytest.raises(ParseError, match="unknown entity"):
        read_brat("x", text, "T1\tGene_or_protein 0 6\tCYP2D6\nR1\tinfluences Arg1:T1 Arg2:T9\t\n")
    with pytest.raises(ParseError, match="outside text"):
        read_brat("x", text, "T1\tGene_or_protein 0 60\tCYP2D6\n")


def test_pubtator_auto_fixture_scored_by_hand():
    root = FIXTURES / "pgxcorpus"
    docs = read_pgxcorpus(root)
    auto = read_pgxcorpus_pubtator_auto(root)
    assert {k: len(v) for k, v in auto.items()} == {"10070957_8": 8, "18382665_13": 3}
    pred = {k: to_mentions(v, PUBTATOR_TO_PGXLIT, "pubtator") for k, v in auto.items()}
    s = score_entities(docs, pred, PGXCORPUS_TO_PGXLIT)
    # Sentence 1: 6 chemicals found exactly; "A2/A2" and "A1/A1" tagged Gene where gold
    # has Limited_variation "A2/A2 genotype" (wrong label -> 2 FP GENE, 2 FN VARIANT).
    # Sentence 2: ADH1B x2 found exactly (GENE); the first also overlaps the
    # Genomic_factor "ADH1B regulatory region" (GENE) but is counted once;
    # "amino-acid" as Chemical is a FP.
    for mode in (s.exact, s.overlap):
        rows = {r.label: (r.gold, r.pred, r.tp) for r in mode.per_label}
        assert rows == {
            "DRUG": (6, 7, 6), "GENE": (3, 4, 2), "VARIANT": (3, 0, 0),
            "ALLELE": (1, 0, 0), "PHENOTYPE": (7, 0, 0),
        }
        assert (mode.micro.gold, mode.micro.pred, mode.micro.tp) == (20, 11, 8)
        assert mode.micro.precision == pytest.approx(8 / 11)
        assert mode.micro.recall == pytest.approx(8 / 20)
        assert mode.micro.f1 == pytest.approx(2 * 8 / (20 + 11))
    # the unmatched gold GENE is the Genomic_factor, not the exact ADH1B
    assert ("18382665_13", 121, 144, "GENE", "ADH1B regulatory region") in s.overlap.false_negatives


def test_gold_as_predictions_is_perfect_on_fixture():
    docs = read_pgxcorpus(FIXTURES / "pgxcorpus")
    pred = {d.id: gold_as_predictions(d, PGXCORPUS_TO_PGXLIT) for d in docs}
    s = score_entities(docs, {k: v[0] for k, v in pred.items()}, PGXCORPUS_TO_PGXLIT)
    assert s.exact.micro.f1 == s.overlap.micro.f1 == 1.0
    r = score_relations(docs, pred)
    assert r.typed.micro.f1 == 1.0 and r.typed.micro.gold == 8


# ---- entity scoring, hand-made ----------------------------------------------

TEXT = "CYP2C9*3 carriers need less warfarin"
#       0123456789...
GOLD_DOC = GoldDoc(
    "d1",
    TEXT,
    (
        ent("T1", TEXT, 0, 6, "GENE"),       # CYP2C9
        ent("T2", TEXT, 0, 8, "ALLELE"),     # CYP2C9*3
        ent("T3", TEXT, 28, 36, "DRUG"),     # warfarin
    ),
    (),
)


def counts(ms):
    return {r.label: (r.gold, r.pred, r.tp) for r in ms.per_label}


def test_perfect():
    pred = {"d1": [men(TEXT, 0, 6, "GENE"), men(TEXT, 0, 8, "ALLELE"), men(TEXT, 28, 36, "DRUG")]}
    s = score_entities([GOLD_DOC], pred, IDENTITY)
    for ms in (s.exact, s.overlap):
        assert (ms.micro.precision, ms.micro.recall, ms.micro.f1) == (1.0, 1.0, 1.0)
        assert (ms.macro.precision, ms.macro.recall, ms.macro.f1) == (1.0, 1.0, 1.0)
        assert ms.false_positives == () and ms.false_negatives == ()
    assert [r.label for r in s.exact.per_label] == ["DRUG", "GENE", "ALLELE"]  # ENTITY_LABELS order


def test_partial_overlap():
    # "CYP2C" (0-5) for GENE; "warfarin" extended to "less warfarin" (23-36)
    pred = {"d1": [men(TEXT, 0, 5, "GENE"), men(TEXT, 23, 36, "DRUG")]}
    s = score_entities([GOLD_DOC], pred, IDENTITY)
    assert counts(s.exact) == {"DRUG": (1, 1, 0), "GENE": (1, 1, 0), "ALLELE": (1, 0, 0)}
    assert counts(s.overlap) == {"DRUG": (1, 1, 1), "GENE": (1, 1, 1), "ALLELE": (1, 0, 0)}
    assert s.exact.micro.f1 == 0.0
    assert s.overlap.micro.precision == 1.0
    assert s.overlap.micro.recall == pytest.approx(2 / 3)
    assert s.overlap.micro.f1 == pytest.approx(0.8)
    # macro over DRUG, GENE (P=R=F=1) and ALLELE (0,0,0)
    assert s.overlap.macro.precision == pytest.approx(2 / 3)
    assert s.overlap.macro.f1 == pytest.approx(2 / 3)


def test_wrong_label():
    pred = {"d1": [men(TEXT, 28, 36, "GENE")]}  # warfarin called a gene
    s = score_entities([GOLD_DOC], pred, IDENTITY)
    for ms in (s.exact, s.overlap):
        assert counts(ms) == {"DRUG": (1, 0, 0), "GENE": (1, 1, 0), "ALLELE": (1, 0, 0)}
        assert (ms.micro.tp, ms.micro.precision, ms.micro.recall, ms.micro.f1) == (0, 0.0, 0.0, 0.0)
        assert ms.false_positives == (("d1", 28, 36, "GENE", "warfarin"),)


def test_duplicate_predictions_count_once():
    pred = {"d1": [men(TEXT, 28, 36, "DRUG"), men(TEXT, 28, 36, "DRUG"), men(TEXT, 29, 36, "DRUG")]}
    s = score_entities([GOLD_DOC], pred, IDENTITY)
    assert counts(s.exact)["DRUG"] == (1, 3, 1)
    assert counts(s.overlap)["DRUG"] == (1, 3, 1)
    d = s.overlap.label("DRUG")
    assert (d.precision, d.recall, d.f1, d.fp, d.fn) == (pytest.approx(1 / 3), 1.0, pytest.approx(0.5), 2, 0)


def test_one_prediction_over_two_gold_counts_once_and_best_overlap_wins():
    text = "CYP2C9 CYP2C19"
    gold = GoldDoc("d", text, (ent("T1", text, 0, 6, "GENE"), ent("T2", text, 7, 14, "GENE")), ())
    s = score_entities([gold], {"d": [men(text, 0, 14, "GENE")]}, IDENTITY)
    assert counts(s.overlap) == {"GENE": (2, 1, 1)}
    # the longer overlap (CYP2C19, 7 chars) is the one matched
    assert s.overlap.false_negatives == (("d", 0, 6, "GENE", "CYP2C9"),)
    # greedy by overlap gives each prediction its best partner
    s = score_entities([gold], {"d": [men(text, 0, 8, "GENE"), men(text, 5, 14, "GENE")]}, IDENTITY)
    assert counts(s.overlap) == {"GENE": (2, 2, 2)}


def test_discontinuous_gold_overlap_uses_fragments():
    text = "levels of estrone and estradiol"
    gold = GoldDoc("d", text, (ent("T1", text, 0, 31, "PHENOTYPE", spans=[(22, 31), (0, 9)]),), ())
    assert gold.entities[0].text == "estradiol levels of"
    in_gap = score_entities([gold], {"d": [men(text, 10, 17, "PHENOTYPE")]}, IDENTITY)
    assert in_gap.overlap.micro.tp == 0
    on_fragment = score_entities([gold], {"d": [men(text, 22, 31, "PHENOTYPE")]}, IDENTITY)
    assert on_fragment.overlap.micro.tp == 1 and on_fragment.exact.micro.tp == 0
    extent = score_entities([gold], {"d": [men(text, 0, 31, "PHENOTYPE")]}, IDENTITY)
    assert extent.exact.micro.tp == 1


def test_empty_cases():
    # nothing at all
    s = score_entities([], {}, IDENTITY)
    assert s.exact.per_label == () and s.exact.micro.f1 == 0.0 and s.exact.macro.f1 == 0.0
    # gold, no predictions (doc missing from the dict)
    s = score_entities([GOLD_DOC], {}, IDENTITY)
    assert (s.overlap.micro.gold, s.overlap.micro.pred, s.overlap.micro.tp) == (3, 0, 0)
    assert (s.overlap.micro.precision, s.overlap.micro.recall) == (0.0, 0.0)
    # predictions, no gold entities; predictions for unknown docs are ignored
    empty = GoldDoc("e", TEXT, (), ())
    s = score_entities([empty], {"e": [men(TEXT, 0, 6, "GENE")], "zzz": [men(TEXT, 0, 6, "GENE")]}, IDENTITY)
    assert counts(s.exact) == {"GENE": (0, 1, 0)}


def test_label_map_and_labels_filter():
    text = "warfarin in mice"
    gold = GoldDoc("d", text, (ent("T1", text, 0, 8, "ChemicalEntity"), ent("T2", text, 12, 16, "OrganismTaxon")), ())
    pred = {"d": [men(text, 0, 8, "DRUG"), men(text, 12, 16, "PHENOTYPE")]}
    s = score_entities([gold], pred, BIORED_TO_PGXLIT)  # OrganismTaxon -> None: left out
    assert counts(s.exact) == {"DRUG": (1, 1, 1), "PHENOTYPE": (0, 1, 0)}
    s = score_entities([gold], pred, BIORED_TO_PGXLIT, labels={"DRUG"})
    assert counts(s.exact) == {"DRUG": (1, 1, 1)} and s.exact.micro.f1 == 1.0


# ---- relation scoring, hand-made ---------------------------------------------

RTEXT = "VKORC1 variants influence warfarin dose and are linked to bleeding"
#        0         1         2         3         4         5         6
#        0123456789012345678901234567890123456789012345678901234567890123456
R_ENTS = (
    ent("T1", RTEXT, 0, 15, "VARIANT"),     # VKORC1 variants
    ent("T2", RTEXT, 26, 39, "PHENOTYPE"),  # warfarin dose
    ent("T3", RTEXT, 58, 66, "PHENOTYPE"),  # bleeding
)
R_DOC = GoldDoc(
    "r",
    RTEXT,
    R_ENTS,
    (GoldRelation("T1", "T2", "influences"), GoldRelation("T1", "T3", "isAssociatedWith", hedged=True)),
)
M_VAR, M_DOSE, M_BLEED = men(RTEXT, 0, 15, "VARIANT"), men(RTEXT, 26, 39, "PHENOTYPE"), men(RTEXT, 58, 66, "PHENOTYPE")


def rscore(mentions, rels, **kw):
    return score_relations([R_DOC], {"r": (mentions, rels)}, **kw)


def test_relations_perfect_and_symmetric():
    ms = [M_VAR, M_DOSE, M_BLEED]
    s = rscore(ms, [RelationMention(0, 1, "influences"), RelationMention(0, 2, "isAssociatedWith")])
    assert s.typed.micro.f1 == 1.0 and s.untyped.micro.f1 == 1.0
    # isAssociatedWith is symmetric: reversed still matches
    s = rscore(ms, [RelationMention(0, 1, "influences"), RelationMention(2, 0, "isAssociatedWith")])
    assert s.typed.micro.f1 == 1.0
    assert {r.label: (r.gold, r.pred, r.tp) for r in s.typed.per_label} == {
        "influences": (1, 1, 1), "isAssociatedWith": (1, 1, 1)}


def test_relations_direction_and_type():
    ms = [M_VAR, M_DOSE]
    # influences reversed: wrong for typed, right for untyped
    s = rscore(ms, [RelationMention(1, 0, "influences")])
    assert (s.typed.micro.gold, s.typed.micro.pred, s.typed.micro.tp) == (2, 1, 0)
    assert (s.untyped.micro.gold, s.untyped.micro.pred, s.untyped.micro.tp) == (2, 1, 1)
    assert s.untyped.micro.precision == 1.0 and s.untyped.micro.recall == 0.5
    # wrong type: typed FP under the predicted type, untyped TP
    s = rscore(ms, [RelationMention(0, 1, "decreases")])
    assert {r.label: (r.gold, r.pred, r.tp) for r in s.typed.per_label} == {
        "decreases": (0, 1, 0), "influences": (1, 0, 0), "isAssociatedWith": (1, 0, 0)}
    assert s.untyped.micro.tp == 1
    # type_map collapsing decreases into influences (both sides)
    collapse = {"decreases": "influences", "influences": "influences", "isAssociatedWith": "isAssociatedWith"}
    s = rscore(ms, [RelationMention(0, 1, "decreases")], type_map=collapse)
    assert s.typed.label("influences").tp == 1


def test_relations_overlap_exact_duplicates_labels():
    short = [men(RTEXT, 0, 6, "GENE"), men(RTEXT, 26, 34, "DRUG")]  # "VKORC1", "warfarin"
    rel = [RelationMention(0, 1, "influences")]
    assert rscore(short, rel).typed.micro.tp == 1                   # spans overlap
    assert rscore(short, rel, match="exact").typed.micro.tp == 0    # but are not exact
    assert rscore(short, rel, label_map=IDENTITY).typed.micro.tp == 0  # labels disagree
    assert rscore([M_VAR, M_DOSE], rel, label_map=IDENTITY).typed.micro.tp == 1
    # duplicate relation (also via a duplicated mention): typed counts it twice, untyped once
    dup = rscore([M_VAR, M_DOSE, M_DOSE], [RelationMention(0, 1, "influences"), RelationMention(0, 2, "influences")])
    assert (dup.typed.micro.pred, dup.typed.micro.tp) == (2, 1)
    assert (dup.untyped.micro.pred, dup.untyped.micro.tp) == (1, 1)
    # empty
    e = rscore([], [])
    assert (e.typed.micro.gold, e.typed.micro.pred, e.typed.micro.f1) == (2, 0, 0.0)
    with pytest.raises(ValueError):
        rscore([], [], match="fuzzy")


def test_document_level_relations_are_not_scored():
    doc = GoldDoc("b", "x", (), (GoldRelation("D1", "D2", "Association", level="document"),))
    s = score_relations([doc], {})
    assert s.typed.micro.gold == 0


# ---- maps, table, expected figures --------------------------------------------


def test_label_maps_cover_schemes():
    assert set(PGXLIT_TO_PGXCORPUS) == set(ENTITY_LABELS) == set(PGXLIT_TO_BIORED)
    assert set(v for v in PGXCORPUS_TO_PGXLIT.values()) <= set(ENTITY_LABELS)
    for lab, typ in PGXLIT_TO_PGXCORPUS.items():
        assert PGXCORPUS_TO_PGXLIT[typ] == lab  # round trip
    for lab, typ in PGXLIT_TO_BIORED.items():
        assert BIORED_TO_PGXLIT[typ] in ENTITY_LABELS


def test_format_table_aligned():
    pred = {"d1": [men(TEXT, 0, 5, "GENE"), men(TEXT, 23, 36, "DRUG")]}
    table = format_table(score_entities([GOLD_DOC], pred, IDENTITY))
    blocks = table.strip("\n").split("\n\n")
    assert len(blocks) == 2 and blocks[0].startswith("entities, exact span")
    for block in blocks:
        lines = block.split("\n")[1:]
        assert len({len(line) for line in lines}) == 1, block  # all rows one width
        assert lines[0].split() == ["label", "gold", "pred", "tp", "P", "R", "F1"]
    assert "micro" in table and "macro" in table
    overlap_drug = [line for line in blocks[1].split("\n") if line.startswith("DRUG")][0]
    assert overlap_drug.split() == ["DRUG", "1", "1", "1", "1.000", "1.000", "1.000"]
    rtable = format_table(rscore([M_VAR, M_DOSE], [RelationMention(0, 1, "influences")]))
    assert "relations, typed (overlap spans)" in rtable and "ANY" in rtable


def test_compare_to_expected(tmp_path):
    actual = {"run": {"overlap": {"micro": {"f1": 0.60, "tp": 10}, "macro": {"f1": 0.50}}, "note": "x"}}
    exp = tmp_path / "expected.json"
    exp.write_text(json.dumps({
        "_comment": "ignored",
        "run": {"overlap": {"micro": {"f1": 0.61, "tp": 10}, "macro": {"f1": 0.55}}, "note": "x"},
    }))
    assert compare_to_expected(actual, exp) == ["run.overlap.macro.f1: REGRESSION 0.5000 < expected 0.5500 - 0.02"]
    exp.write_text(json.dumps({"run": {"overlap": {"micro": {"f1": 0.50, "tp": 11, "precision": 0.3}}}}))
    problems = compare_to_expected(actual, exp)
    assert len(problems) == 3
    assert problems[0].startswith("run.overlap.micro.f1: improved")
    assert "counts must match exactly" in problems[1]
    assert "missing" in problems[2]
    assert compare_to_expected(actual, exp, tolerance=0.2)[0].startswith("run.overlap.micro.tp")


# ---- real DEV corpora (../shared/gold) ------------------------------------------


@pytest.fixture(scope="module")
def pgx_docs(gold: Path) -> list[GoldDoc]:
    return read_pgxcorpus(gold / "pgxcorpus")


@pytest.mark.shared
def test_pgxcorpus_dev_counts(pgx_docs):
    docs = pgx_docs
    assert len(docs) == 629
    assert len({split_group(d.id) for d in docs}) == 608  # PMIDs
    ents = [e for d in docs for e in d.entities]
    assert len(ents) == 4431
    assert Counter(e.label for e in ents) == {
        "Chemical": 1115, "Gene_or_protein": 1115, "Limited_variation": 611, "Phenotype": 471,
        "Disease": 410, "Pharmacodynamic_phenotype": 403, "Pharmacokinetic_phenotype": 111,
        "Haplotype": 97, "Genomic_factor": 57, "Genomic_variation": 41,
    }
    assert sum(e.discontinuous for e in ents) == 273
    rels = [r for d in docs for r in d.relations]
    assert len(rels) == 1866
    assert Counter(r.type for r in rels) == {
        "influences": 614, "isAssociatedWith": 468, "isEquivalentTo": 185, "increases": 172,
        "decreases": 167, "treats": 147, "causes": 113,
    }
    notes = Counter(r.note for r in rels if r.note is not None)
    assert sum(notes.values()) == 561
    assert (notes["hyp"], notes["neg"], notes["hyp neg"]) == (433, 108, 7)
    assert sum(v for k, v in notes.items() if k not in ("hyp", "neg", "hyp neg")) == 13  # incl. "Neg", "hypo"
    # flags: hyp 433 + hyp neg 7 + hypo 1; neg 108 + hyp neg 7 + Neg 1
    assert sum(r.hedged for r in rels) == 441
    assert sum(r.negated for r in rels) == 116
    for d in docs:
        assert_entity_texts(d)


@pytest.mark.shared
def test_dev_split_deterministic_disjoint(pgx_docs):
    train, test = dev_split(pgx_docs, "train"), dev_split(pgx_docs, "test")
    assert {d.id for d in train}.isdisjoint({d.id for d in test})
    assert len(train) + len(test) == len(pgx_docs)
    assert 0.18 <= len(test) / len(pgx_docs) <= 0.32
    # sentences of one PMID stay in one fold
    assert {split_group(d.id) for d in train}.isdisjoint({split_group(d.id) for d in test})
    # same answer on a second call, on reversed input, and on a subset
    assert [d.id for d in dev_split(pgx_docs, "test")] == [d.id for d in test]
    assert {d.id for d in dev_split(list(reversed(pgx_docs)), "test")} == {d.id for d in test}
    assert {d.id for d in dev_split(pgx_docs[:100], "test")} == {d.id for d in test if d in pgx_docs[:100]}
    # pinned: changing the hash or salt would silently move documents between folds
    assert len(test) == 138
    with pytest.raises(ValueError):
        dev_split(pgx_docs, "dev")


@pytest.mark.shared
def test_biored_counts(gold):
    train = read_biored(gold / "biored" / "Train.PubTator")
    dev = read_biored(gold / "biored" / "Dev.PubTator")
    for docs, n_docs, n_ment, n_rel, ments, rels in (
        (train, 400, 13351, 4178,
         {"GeneOrGeneProduct": 4430, "DiseaseOrPhenotypicFeature": 3646, "ChemicalEntity": 2853,
          "OrganismTaxon": 1429, "SequenceVariant": 890, "CellLine": 103},
         {"Association": 2192, "Positive_Correlation": 1089, "Negative_Correlation": 763, "Bind": 61,
          "Cotreatment": 31, "Comparison": 28, "Drug_Interaction": 11, "Conversion": 3}),
        (dev, 100, 3533, 1162,
         {"GeneOrGeneProduct": 1087, "DiseaseOrPhenotypicFeature": 982, "ChemicalEntity": 822,
          "OrganismTaxon": 370, "SequenceVariant": 250, "CellLine": 22},
         {"Association": 560, "Positive_Correlation": 352, "Negative_Correlation": 216, "Bind": 19,
          "Cotreatment": 10, "Comparison": 5}),
    ):
        assert len(docs) == n_docs
        assert len({d.id for d in docs}) == n_docs
        ents = [e for d in docs for e in d.entities]
        assert len(ents) == n_ment and Counter(e.label for e in ents) == ments
        rel_list = [r for d in docs for r in d.relations]
        assert len(rel_list) == n_rel and Counter(r.type for r in rel_list) == rels
        assert all(r.level == "document" and r.note in ("Novel", "No") for r in rel_list)
        for d in docs:
            assert_entity_texts(d)
            # relation arguments are identifiers used by the document's mentions
            ids = {i for e in d.entities if e.norm for i in e.norm.split(",")}
            assert all(r.head in ids and r.tail in ids for r in d.relations), d.id
    first = train[0]
    assert first.id == "10491763" and first.text.startswith("Hepatocyte nuclear factor-6: associations")
    assert first.entities[0] == GoldEntity("T1", 0, 27, "GeneOrGeneProduct", "Hepatocyte nuclear factor-6", ((0, 27),), "3175")
    assert all(e.norm is None or (" " not in e.norm and e.norm != "-") for d in train for e in d.entities)
    assert set(BIORED_TO_PGXLIT) == {e.label for d in train for e in d.entities}


@pytest.mark.shared
def test_pgxmine_counts(gold):
    for name, n_rel, n_with, ments in (
        ("annotations.variant_star_rs.bioc.xml", 514, 284,
         {"Mutation": 557, "Gene": 519, "Chemical": 459, "Disease": 171, "Species": 132, "CellLine": 1}),
        ("annotations.variant_other.bioc.xml", 236, 144,
         {"Mutation": 477, "Chemical": 413, "Gene": 323, "Species": 160, "Disease": 113, "CellLine": 17}),
    ):
        docs = read_pgxmine(gold / "pgxmine" / name)
        assert len(docs) == 334
        assert docs[0].id == f"{name.removesuffix('.xml')}:0" and docs[-1].id.endswith(":333")
        assert sum(len(d.relations) for d in docs) == n_rel
        assert sum(1 for d in docs if d.relations) == n_with
        assert Counter(e.label for d in docs for e in d.entities) == ments
        for d in docs:
            assert_entity_texts(d)
            by_id = d.entities_by_id()
            for r in d.relations:
                assert r.type == "Associated"
                assert (by_id[r.head].label, by_id[r.tail].label) == ("Chemical", "Mutation")
        assert 0.18 <= len(dev_split(docs, "test")) / len(docs) <= 0.32


@pytest.mark.shared
def test_gold_as_predictions_on_pgxcorpus(pgx_docs):
    pred = {d.id: gold_as_predictions(d, PGXCORPUS_TO_PGXLIT) for d in pgx_docs}
    s = score_entities(pgx_docs, {k: v[0] for k, v in pred.items()}, PGXCORPUS_TO_PGXLIT)
    assert s.exact.micro.f1 == s.overlap.micro.f1 == 1.0
    r = score_relations(pgx_docs, pred)
    assert r.typed.micro.f1 == 1.0 and r.typed.micro.gold == 1866
    # untyped: a Mention cannot be discontinuous, so distinct gold entities with
    # the same outer extent (10 cases, e.g. "expression of DR5 mRNA" / "... caspase-3
    # mRNA") collapse into one predicted pair: 1,849 of 1,866 pairs.
    assert (r.untyped.micro.gold, r.untyped.micro.pred, r.untyped.micro.tp) == (1866, 1849, 1849)


@pytest.mark.shared
def test_pubtator_auto_baseline_on_pgxcorpus_dev(gold, pgx_docs):
    auto = read_pgxcorpus_pubtator_auto(gold / "pgxcorpus")
    assert len(auto) == 629 and sum(len(v) for v in auto.values()) == 2471
    assert Counter(e.label for v in auto.values() for e in v) == {"Gene": 999, "Chemical": 938, "Disease": 339, "Mutation": 195}
    pred = {k: to_mentions(v, PUBTATOR_TO_PGXLIT, "pubtator") for k, v in auto.items()}
    dev = score_entities(pgx_docs, pred, PGXCORPUS_TO_PGXLIT)
    test_fold = score_entities(dev_split(pgx_docs, "test"), pred, PGXCORPUS_TO_PGXLIT)
    four = score_entities(pgx_docs, pred, PGXCORPUS_TO_PGXLIT, labels={"DRUG", "GENE", "VARIANT", "DISEASE"})
    print("\nPubTator-auto baseline, PGxCorpus DEV (629 sentences)\n" + format_table(dev))
    print("PubTator-auto baseline, PGxCorpus DEV test fold\n" + format_table(test_fold))
    actual = {
        "pgxcorpus_dev": dev.to_dict(),
        "pgxcorpus_dev_test_fold": test_fold.to_dict(),
        "pgxcorpus_dev_pubtator_labels": {
            m: {"micro": getattr(four, m).micro.to_dict(), "macro": getattr(four, m).macro.to_dict()}
            for m in ("exact", "overlap")
        },
    }
    assert compare_to_expected(actual, EXPECTED_BASELINE) == []
    # sanity on the floor itself
    assert dev.overlap.micro.tp >= dev.exact.micro.tp
    assert dev.exact.label("GENE").f1 > 0.8 and dev.exact.label("PHENOTYPE").pred == 0


# ---- PGxCorpus's own scheme (extract.pgxcorpus_types) ------------------------------


def _head(classes: list[str], weights: dict[str, dict[str, float]], bias: float = -4.0):
    """A hand-set linear head: feature -> {class: weight}; NONE wins unless a feature says otherwise."""
    import numpy as np

    from pgxlit.extract.relation_model import LinearHead

    names = sorted(weights)
    w = np.array([[weights[n].get(c, 0.0) for c in classes] for n in names], dtype=np.float32)
    b = np.array([0.0] + [bias] * (len(classes) - 1))
    return LinearHead(classes, {n: i for i, n in enumerate(names)}, w, b)


def test_candidates_keep_the_mention_and_move_one_edge_at_a_time():
    from pgxlit.extract.pgxcorpus_types import candidates, tokens_of

    text = "the CYP3A5 polymorphisms ( rs776746 ) alter tacrolimus clearance ."
    gene = Mention(4, 10, "GENE", "CYP3A5")
    cands = candidates(text, [gene])
    spans = {text[c.start:c.end] for c in cands}
    assert (cands[0].start, cands[0].end, cands[0].left, cands[0].right) == (4, 10, 0, 0)
    assert {"CYP3A5 polymorphisms", "the CYP3A5", "CYP3A5 polymorphisms ( rs776746 )"} <= spans
    assert all(c.start in {s for s, _ in tokens_of(text)} for c in cands)  # token edges only
    assert len(spans) == len(cands)  # no span twice


def test_typer_retypes_nests_drops_and_reindexes_relations():
    from pgxlit.extract.pgxcorpus_types import NONE, FineTyper

    text = "CYP3A5 polymorphisms alter tacrolimus clearance in patients ."
    gene = Mention(0, 6, "GENE", "CYP3A5")
    noise = Mention(51, 59, "DISEASE", "patients")
    drug = Mention(27, 37, "DRUG", "tacrolimus")
    classes = [NONE, "Gene_or_protein", "Limited_variation", "Chemical", "Pharmacokinetic_phenotype"]
    head = _head(classes, {
        "own_span=GENE": {"Gene_or_protein": 6.0},
        "lab_grown=GENE|polymorphisms": {"Limited_variation": 9.0},
        "own_span=DRUG": {"Chemical": 6.0},
        "lab_grown=DRUG|clearance": {"Pharmacokinetic_phenotype": 9.0},
        "dl=0": {"Pharmacokinetic_phenotype": 1.0, "Limited_variation": 1.0},  # grow on the right only
    })
    rels = [RelationMention(0, 1, "influences"), RelationMention(2, 1, "isAssociatedWith")]
    flat, flat_rels = FineTyper(head, threshold=0.5).retype(text, [gene, drug, noise], rels)
    assert [(m.text, m.label) for m in flat] == [
        ("CYP3A5 polymorphisms", "Limited_variation"), ("tacrolimus clearance", "Pharmacokinetic_phenotype")]
    assert flat_rels == [RelationMention(0, 1, "influences")]  # the dropped DISEASE took its relation along
    gene_n = Mention(0, 6, "GENE", "CYP3A5", norm="HGNC:2638|CYP3A5")
    [variation, _] = FineTyper(head, threshold=0.5).retype(text, [gene_n, drug])[0]
    assert variation.norm is None  # a gene's id does not travel to the variation grown around it
    nested_n, _ = FineTyper(head, threshold=0.5, nested_threshold=0.5).retype(text, [gene_n, drug])
    assert [m.norm for m in nested_n if m.label == "Gene_or_protein"] == ["HGNC:2638|CYP3A5"]
    nested, _ = FineTyper(head, threshold=0.5, nested_threshold=0.5).retype(text, [gene, drug, noise], rels)
    assert {(m.text, m.label) for m in nested} >= {("CYP3A5", "Gene_or_protein"), ("tacrolimus", "Chemical"),
                                                    ("CYP3A5 polymorphisms", "Limited_variation")}


def test_typer_refuses_a_head_without_none_first():
    from pgxlit.extract.pgxcorpus_types import FineTyper

    with pytest.raises(ValueError, match="NONE"):
        FineTyper(_head(["Chemical", "NONE"], {}))


def test_coarse_mapping_when_no_typer():
    from pgxlit.extract.pgxcorpus_types import to_pgxcorpus

    text = "warfarin dose"
    mentions, rels = to_pgxcorpus(text, [Mention(0, 8, "DRUG", "warfarin")], [], None)
    assert [(m.label, m.start, m.end) for m in mentions] == [("Chemical", 0, 8)] and rels == []


@pytest.mark.shared
def test_annotate_pgxcorpus_scheme_on_real_test_fold_sentences(pgx_docs):
    """Real PGxCorpus test-fold sentences (never trained on): the new types come out with the corpus's spans."""
    by_id = {d.id: d for d in pgx_docs}
    ids = ["17529886_13", "20191296_1", "18370849_5"]
    assert all(dev_split([by_id[i]], "test") for i in ids)
    lines = [json.dumps({"id": i, "text": by_id[i].text}) for i in ids]
    out = {r["id"]: r for r in map(json.loads, annotate_lines(lines, "pgxcorpus"))}
    found = {(i, e["text"], e["label"]) for i, r in out.items() for e in r["entities"]}
    assert {
        ("17529886_13", "MPA pharmacokinetics", "Pharmacokinetic_phenotype"),
        ("17529886_13", "UGT1A9 I399 polymorphisms", "Limited_variation"),
        ("20191296_1", "POMC gene promoter", "Genomic_factor"),
        ("18370849_5", "carbamazepine hypersensitivity", "Pharmacodynamic_phenotype"),
    } <= found
    for i, r in out.items():
        gold = {(e.start, e.end, e.label) for e in by_id[i].entities}
        exact = sum((e["start"], e["end"], e["label"]) in gold for e in r["entities"])
        assert exact >= len(r["entities"]) // 2, (i, r["entities"])  # mostly the corpus's own spans
        assert all(0 <= x["head"] < len(r["entities"]) and 0 <= x["tail"] < len(r["entities"]) for x in r["relations"])


@pytest.mark.shared
def test_pgxcorpus_scheme_headline_on_the_test_fold(pgx_docs):
    """All ten types are emitted; the typer beats the coarse label mapping it replaced (0.366 exact macro-F1)."""
    from pgxlit.extract.benchmarks import pgxcorpus_scheme_scores, predict

    test = dev_split(pgx_docs, "test")
    data, lines = pgxcorpus_scheme_scores(test, predict(test))
    assert data["typer"] and lines[0].startswith("HEADLINE")
    per = data["entities"]["exact"]["per_label"]
    assert set(per) == {
        "Chemical", "Gene_or_protein", "Genomic_factor", "Limited_variation", "Genomic_variation", "Haplotype",
        "Phenotype", "Pharmacokinetic_phenotype", "Pharmacodynamic_phenotype", "Disease",
    }
    # The nested CRF predicts no Genomic_variation on this fold (5 gold mentions), but every type is
    # among the labels its levels can emit.
    assert sum(row["pred"] > 0 for row in per.values()) >= 9, per
    assert sum(row["tp"] > 0 for row in per.values()) >= 9
    from pgxlit.extract.nested_crf import shipped_tagger

    import pycrfsuite

    tagger = shipped_tagger("pgxcorpus")
    assert tagger is not None
    emitted = set()
    for path in sorted(tagger.folder.glob("level*.crfsuite")):
        crf = pycrfsuite.Tagger()
        crf.open(str(path))
        emitted |= {label.split("-", 1)[1] for label in crf.labels() if label != "O"}
    assert emitted == set(per)
    assert data["entities"]["exact"]["macro"]["f1"] >= 0.44
    assert data["relations_exact"]["typed"]["micro"]["f1"] > data["relations_overlap"]["typed"]["micro"]["f1"] / 3


def test_biored_typer_is_shipped_with_biored_types():
    from pgxlit.extract.pgxcorpus_types import NONE, shipped_typer

    typer = shipped_typer("biored", "typer")  # the fast choice; the default for BioRED is the vote (tests/test_span_vote.py)
    assert typer is not None and typer.head.classes == [
        NONE, "ChemicalEntity", "GeneOrGeneProduct", "SequenceVariant", "DiseaseOrPhenotypicFeature"]
    text = "The CYP2C19 rs4244285 variant reduced clopidogrel response ."
    typed, _ = typer.retype(text, [Mention(4, 11, "GENE", "CYP2C19"), Mention(12, 21, "VARIANT", "rs4244285"),
                                   Mention(38, 49, "DRUG", "clopidogrel")])
    assert {(m.text, m.label) for m in typed} >= {("rs4244285", "SequenceVariant"), ("clopidogrel", "ChemicalEntity")}
