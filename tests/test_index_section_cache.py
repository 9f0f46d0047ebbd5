"""Cutting passages annotates a section text once for all the label versions that repeat it (issue 15).

The cache must not change a passage: versions cut with it give exactly the passages they give alone."""

from __future__ import annotations

from pgxlit.extract.pipeline import AnnotationMemo, rules_nlp
from pgxlit.index.passages import label_passages
from pgxlit.records import LabelVersion, Section

SHARED = ("Patients who are CYP2C19 poor metabolizers have diminished antiplatelet effect of clopidogrel. "
          "Consider another platelet P2Y12 inhibitor. Genetic testing for CYP2C19 (cytochrome P450 2C19) is available.")
DOSING = "Take 75 mg once daily with or without food. Do not stop taking clopidogrel without talking to your doctor."


def version(n: int, warning: str) -> LabelVersion:
    sections = (Section(0, SHARED, field="boxed_warning", title="WARNING"),
                Section(1, warning, field="warnings_and_cautions", title="WARNINGS"),
                Section(2, DOSING, field="dosage_and_administration", title="DOSAGE"))
    return LabelVersion("aaaaaaaa-0000-4000-8000-00000000000c", n, f"202{n}0101", None, "PLAVIX",
                        generic_names=("CLOPIDOGREL",), sections=sections)


def test_cached_sections_give_the_same_passages() -> None:
    nlp = rules_nlp()
    v1 = version(1, "Bleeding risk rises with NSAIDs and warfarin.")
    v2 = version(2, "Bleeding risk rises with NSAIDs, warfarin and omeprazole. CYP2C19 intermediate metabolizers "
                    "also have lower active metabolite exposure.")
    cache = AnnotationMemo(nlp)
    cached = [label_passages(v, nlp=nlp, annotations=cache) for v in (v1, v2, v1)]
    alone = [label_passages(v, nlp=nlp) for v in (v1, v2, v1)]
    assert cached == alone
    assert any("cyp2c19" in (g.lower() for g in p.genes) for p in cached[0])  # annotated, not empty
    # v1: 3 new texts; v2: the boxed warning and dosage again, its warning new; v1 again: all known.
    assert (cache.misses, cache.hits) == (4, 5)


def test_the_cache_stays_bounded() -> None:
    cache = AnnotationMemo(rules_nlp(), limit=2)
    texts = [f"Sentence number {i} about CYP2D6." for i in range(5)]
    assert [len(a) for a in cache.annotate(texts)] == [1] * 5
    assert len(cache._known) == 2
    cache.annotate(texts[-1:])
    assert cache.hits == 1
