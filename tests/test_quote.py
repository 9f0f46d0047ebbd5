"""Quotes as readers see them, on real recorded label text: the spaces SPL markup leaves inside
cross-references ("[see Boxed Warning ] .", "(5.1 , 5.2)") are closed up, and nothing else moves:
no character but a space is dropped, and no number, allele or unit is folded."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pgxlit.extract.quote import close_up, tidy
from pgxlit.ingest.openfda_json import parse_openfda_response

CLOPIDOGREL = "openfda/labels/NDA020839.json"
NUMBERS = re.compile(r"\d+(?:\s*[.,:/]\s*\d+)*")


def _label_texts(shared: Path) -> list[str]:
    folder = shared / "corpora" / "fda" / "openfda" / "labels"
    files = sorted(folder.glob("*.json"))
    if not files:
        pytest.skip(f"needs the recorded openFDA labels in {folder}")
    texts: list[str] = []
    for file in files:
        for result in json.loads(file.read_bytes()).get("results", []):
            texts += [t for values in result.values() if isinstance(values, list)
                      for t in values if isinstance(t, str)]
    return texts


def test_a_cross_reference_reads_closed_up(shared: Path) -> None:
    file = shared / "corpora" / "fda" / CLOPIDOGREL
    if not file.is_file():
        pytest.skip(f"needs the recorded label {file}")
    label = parse_openfda_response(file.read_bytes(), CLOPIDOGREL)[0][0]
    found = [m.group(0) for s in label.sections
             for m in re.finditer(r"[^.]*genetic variations in CYP2C19 \[see Boxed Warning \] \.", s.text)]
    assert found, "the recorded clopidogrel label no longer has the cross-reference this test reads"
    assert tidy(found[0]).endswith("genetic variations in CYP2C19 [see Boxed Warning].")


def test_every_recorded_label_closes_up_without_losing_a_character(shared: Path) -> None:
    texts = _label_texts(shared)
    changed = 0
    for text in texts:
        closed = close_up(text)
        changed += closed != text
        assert re.sub(r"\s", "", closed) == re.sub(r"\s", "", text)  # only spaces go
        # numbers keep their own spacing ("1 : 2", "2 .5" stay); only a space before "," or ";" after one goes
        assert [re.sub(r"\s+(?=[,;])", "", n) for n in NUMBERS.findall(closed)] == \
               [re.sub(r"\s+(?=[,;])", "", n) for n in NUMBERS.findall(text)]
        assert not re.search(r"\S\s+[)\]]|[(\[]\s+\S", closed)
        assert not re.search(r"[^\s\d]\s+[.,;:!?](?:\s|$)", closed)
    assert changed > 100  # the debris is common in real labels, not one sentence's


@pytest.mark.parametrize(("text", "quoted"), [
    ("[see Warnings and Precautions (5.1 , 5.2 , 5.3) ] .", "[see Warnings and Precautions (5.1, 5.2, 5.3)]."),
    ("[see Dosage and Administration ( 2.3 )] .", "[see Dosage and Administration (2.3)]."),
    ("the AUC increased by 2 . The ratio was 1 : 2 .", "the AUC increased by 2 . The ratio was 1 : 2 ."),
    ("HLA-B*57 : 01 carriers", "HLA-B*57 : 01 carriers"),
    ("a dose of .5 mg in 5 % of patients", "a dose of .5 mg in 5 % of patients"),
])
def test_numbers_and_units_are_never_folded(text: str, quoted: str) -> None:
    assert close_up(text) == quoted
