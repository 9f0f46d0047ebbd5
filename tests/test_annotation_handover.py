"""Extraction hands its rule annotations of label sections to the passage cutter (issue 15).

`pgxlit extract` and `pgxlit index` run the same rule pipeline over the same label sections; the memo
lets extraction annotate a repeated section once and leave each annotation in the home, where the
index reads it instead of annotating again. Neither the triples nor the passages may change."""

from __future__ import annotations

from pathlib import Path

from pgxlit.extract.pipeline import (
    AnnotationMemo,
    annotate_texts,
    clear_handover,
    handover_folder,
    remembering,
    rules_nlp,
)
from pgxlit.extract.triples import label_triples
from pgxlit.index.passages import label_passages
from pgxlit.records import LabelVersion, Section

BOXED = ("Patients who are CYP2C19 poor metabolizers (PMs) have diminished antiplatelet effect of clopidogrel. "
         "Consider another platelet P2Y12 inhibitor in CYP2C19 PMs.")
DOSING = "Take 75 mg once daily with or without food."


def version(n: int, warning: str) -> LabelVersion:
    sections = (Section(0, BOXED, field="boxed_warning", title="WARNING"),
                Section(1, warning, field="warnings_and_cautions", title="WARNINGS"),
                Section(2, DOSING, field="dosage_and_administration", title="DOSAGE"))
    return LabelVersion("aaaaaaaa-0000-4000-8000-00000000000c", n, f"202{n}0101", None, "PLAVIX",
                        generic_names=("CLOPIDOGREL",), sections=sections)


V1 = version(1, "Bleeding risk rises with warfarin.")
V2 = version(2, "Bleeding risk rises with warfarin. CYP2C19 intermediate metabolizers have lower exposure.")


def test_extraction_through_the_memo_gives_the_same_triples_and_annotates_a_repeat_once() -> None:
    alone = [label_triples(v) for v in (V1, V2)]
    memo = AnnotationMemo(rules_nlp())
    with remembering(memo):
        remembered = [label_triples(v) for v in (V1, V2)]
    assert remembered == alone and any(t.pgx and t.gene == "CYP2C19" for t in alone[0])
    assert (memo.misses, memo.hits) == (4, 2)  # v2 repeats the boxed warning and the dosing
    # Outside the block, and for another pipeline, annotate_texts does not touch the memo.
    list(annotate_texts([DOSING], rules_nlp()))
    assert memo.hits == 2


def test_the_index_reads_what_extraction_handed_over(tmp_path: Path) -> None:
    folder = handover_folder(tmp_path)
    with remembering(AnnotationMemo(rules_nlp(), handover=folder)):  # what `pgxlit extract` does
        label_triples(V1)
        label_triples(V2)
    reader = AnnotationMemo(rules_nlp(), handover=folder)  # a later process: `pgxlit index`
    cut = [label_passages(v, nlp=rules_nlp(), annotations=reader) for v in (V1, V2)]
    assert cut == [label_passages(v, nlp=rules_nlp()) for v in (V1, V2)]
    assert reader.handed == 4 and reader.misses == 4  # every distinct section read, none annotated
    clear_handover(tmp_path)
    assert not folder.exists()


def test_a_damaged_or_foreign_handover_file_only_costs_the_annotation(tmp_path: Path) -> None:
    folder = handover_folder(tmp_path)
    writer = AnnotationMemo(rules_nlp(), handover=folder)
    [expected] = writer.annotate([BOXED])
    [written] = list(writer.handover.rglob("*.pickle"))  # type: ignore[union-attr]
    written.write_bytes(b"not a pickle")
    reader = AnnotationMemo(rules_nlp(), handover=folder)
    assert reader.annotate([BOXED]) == [expected] and reader.handed == 0


def test_the_handover_stays_bounded_over_repeated_runs_and_rules_edits(tmp_path: Path) -> None:
    """A second `pgxlit extract --all` of the same labels writes nothing new; folders of other rules
    versions (left by extraction before an edit of the rules or lexicons) go when a memo opens the
    folder, and nothing but such folders is touched."""
    folder = handover_folder(tmp_path)
    first = AnnotationMemo(rules_nlp(), handover=folder)
    with remembering(first):
        label_triples(V1)
        label_triples(V2)
    own = first.handover
    assert own is not None
    written = sorted(p.name for p in own.rglob("*.pickle"))
    assert len(written) == 4
    stale = folder / ("f" * 16)  # what an earlier rules version left: same layout, another version's name
    (stale / "ab").mkdir(parents=True)
    (stale / "ab" / "x.pickle").write_bytes(b"an older pipeline's annotation")
    (folder / "notes").mkdir()  # not a rules version's name: never ours to remove
    (folder / "README").write_text("kept")
    (folder / ("e" * 16)).symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    second = AnnotationMemo(rules_nlp(), handover=folder)  # the next run
    with remembering(second):
        again = [label_triples(v) for v in (V1, V2)]
    assert again == [label_triples(v) for v in (V1, V2)]
    assert second.handed == second.misses == 4  # every section read back, none annotated or written again
    assert sorted(p.name for p in own.rglob("*.pickle")) == written
    assert sorted(p.name for p in folder.iterdir()) == sorted([own.name, "notes", "README", "e" * 16])
    assert (tmp_path / "elsewhere").is_dir()
