"""The one-shot ask path: what it imports, and the caches that spare a new process the slow reads.

- The question parser finds the same mentions as the extraction recogniser, without spaCy.
- Compiled lexicons, the drug catalogue and the search metadata are cached on disk and rebuilt when
  what they were made from changes (a lexicon file, the stored labels, the index manifest).
- A new process answering a question on a small indexed store never imports spaCy, thinc or torch.
These are behaviour tests: nothing here is timed.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pgxlit.extract import lexicons as lx
from pgxlit.index.paths import IndexPaths
from pgxlit.index.search import Metadata, metadata_stamp
from pgxlit.qa.drugs import DrugCatalogue, default_cache_path
from pgxlit.records import LabelVersion
from pgxlit.store import SaveCounts, Store
from test_index_qa import world  # noqa: F401 - the small indexed store, a module fixture

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO / "qa" / "expected" / "questions.jsonl"
TRICKY = [
    "Can I give codeine to a CYP2D6 ultrarapid metabolizer?",
    "Is clopidogrel bisulfate (Plavix) affected by CYP2C19*2/*3 or rs4244285?",
    "Which drugs should be avoided in HLA-B*58:01 carriers? Reply with only the drug names separated by ;",
    "Does a DPYD c.1905+1G>A heterozygous patient need a 5-FU dose change?",
    "Alanine aminotransferase rose on MET gene amplification with warfarin sodium; VKORC1 -1639G>A?",
    "What are the alternatives if a CYP2C9 poor metabolizer cannot take phenytoin or SSRIs?",
]


def _questions(most: int = 400) -> list[str]:
    texts = []
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "question" in row:
            texts.append(row["question"])
    return texts[:most]


def test_question_recogniser_finds_what_extraction_finds() -> None:
    from pgxlit.extract.pipeline import PgxEntityRecognizer
    from pgxlit.qa.question import recognise

    extraction = PgxEntityRecognizer()
    texts = TRICKY + _questions()
    assert len(texts) > 50
    for text in texts:
        mentions = recognise(text)
        assert mentions == extraction.find(text), text


def _write_tsv(path: Path, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\t".join(columns) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")


def _tiny_lexicons(folder: Path, drugs: list[tuple[str, ...]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _write_tsv(folder / lx.GENES_FILE, lx.GENE_COLUMNS, [("CYP2D6", "CYP2D6", "HGNC:2625", "symbol", "1", "0")])
    _write_tsv(folder / lx.DRUGS_FILE, lx.DRUG_COLUMNS, drugs)
    _write_tsv(folder / lx.NOT_DRUGS_FILE, lx.NOT_DRUG_COLUMNS, [("alanine aminotransferase", "lab_test")])
    return folder


def test_compiled_lexicons_are_cached_and_rebuilt_when_a_file_changes(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGXLIT_CACHE_HOME", str(tmp_path / "cache"))
    folder = _tiny_lexicons(tmp_path / "lex", [("codeine", "codeine", "PA449088", "2670", "name")])
    text = "Give codeine or zorblatinib to CYP2D6 poor metabolizers; alanine aminotransferase."
    first = lx.load_compiled(folder)
    cache = lx.compiled_cache(folder)
    assert cache.is_file()
    again = lx.load_compiled(folder)
    assert lx.DictionaryMatcher(again).find(text) == lx.DictionaryMatcher(first).find(text)
    assert again.drugs_by_id["PA449088"].name == "codeine" and again.normalise_gene("cyp2d6") == ("HGNC:2625", "CYP2D6")
    assert [m.text for m in lx.DictionaryMatcher(again).find(text)] == ["codeine", "CYP2D6"]

    # A lexicon edit gives another cache key: the new drug is known at once.
    _tiny_lexicons(folder, [("codeine", "codeine", "PA449088", "2670", "name"),
                            ("zorblatinib", "zorblatinib", "PA000001", "", "name")])
    assert lx.compiled_cache(folder) != cache
    edited = lx.load_compiled(folder)
    assert [m.text for m in lx.DictionaryMatcher(edited).find(text)] == ["codeine", "zorblatinib", "CYP2D6"]
    assert lx.compiled_cache(folder).is_file()

    # A damaged cache file is compiled again, not trusted.
    lx.compiled_cache(folder).write_bytes(b"not marshal")
    assert lx.load_compiled(folder).normalise_drug("Zorblatinib") == ("PA000001", "zorblatinib")
    assert lx.Lexicons.from_compiled(folder, lx.compiled_cache(folder).read_bytes()).normalise_drug("codeine")


def _label(set_id: str, version: int, name: str) -> LabelVersion:
    return LabelVersion(set_id, version, "20240101", None, f"{name.title()} tablets", generic_names=(name.upper(),))


def test_drug_catalogue_is_cached_and_rebuilt_when_labels_arrive(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'pgxlit.sqlite'}")
    with store.transaction() as session:
        store.save_label_version(session, _label("aaaa-1", 1, "codeine sulfate"), None, SaveCounts())
    path = default_cache_path(store)
    assert path == tmp_path / "pgxlit.drug_catalogue.json"
    first = DrugCatalogue.from_store(store)
    assert path.is_file() and first.has_label("codeine") and not first.has_label("warfarin")

    # Same labels: the cache is what is served (a marker written into it comes back).
    data = json.loads(path.read_text())
    data["names"]["cached marker"] = "codeine"
    path.write_text(json.dumps(data))
    assert DrugCatalogue.from_store(store).names.get("cached marker") == "codeine"

    # A new label version changes the store's label stamp: compiled again, the marker gone.
    with store.transaction() as session:
        store.save_label_version(session, _label("bbbb-2", 3, "warfarin sodium"), None, SaveCounts())
    fresh = DrugCatalogue.from_store(store, named=("sertraline",))
    assert fresh.has_label("warfarin") and fresh.has_label("codeine") and "cached marker" not in fresh.names
    assert fresh.stored("sertraline") and fresh.labels == DrugCatalogue.compile(store).labels
    assert DrugCatalogue.from_store(store).names == fresh.names
    store.close()


def _metadata(n: int, offset: int = 0) -> Metadata:
    ids = np.arange(offset, offset + n, dtype=np.int64)
    return Metadata(ids, np.zeros(n, bool), np.zeros(n, np.int8), np.zeros(n, bool), np.full(n, 20240101, np.int32),
                    np.full(n, -1, np.int64), np.zeros(n, np.int32), ["boxed_warning"],
                    {"codeine": np.arange(n, dtype=np.int64)}, {"CYP2D6": np.asarray([0], np.int64)}, {})


def test_search_metadata_is_saved_with_the_index_generation(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    folder.mkdir()
    paths = IndexPaths(folder)
    (folder / "manifest.json").write_text(json.dumps({"built_at": "2026-01-01T00:00:00Z", "vectors": 3}))
    saved = _metadata(3)
    assert saved.save(paths.metadata, metadata_stamp(paths))
    store = Store(f"sqlite:///{tmp_path / 'pgxlit.sqlite'}")  # holds no passage: reading it gives none
    loaded = Metadata.for_index(store, paths)
    assert loaded.ids.tolist() == [0, 1, 2] and loaded.sections == ["boxed_warning"]
    assert loaded.by_drug["codeine"].tolist() == [0, 1, 2] and loaded.by_gene["CYP2D6"].tolist() == [0]
    assert loaded.by_set == {} and loaded.date.dtype == np.int32

    # Another build rewrites the manifest: the saved file no longer answers, the store is read again.
    (folder / "manifest.json").write_text(json.dumps({"built_at": "2026-01-02T00:00:00Z", "vectors": 0}))
    assert Metadata.load(paths.metadata, metadata_stamp(paths)) is None
    fresh = Metadata.for_index(store, paths)
    assert len(fresh.ids) == 0
    assert len(Metadata.load(paths.metadata, metadata_stamp(paths)).ids) == 0  # and saved for this manifest

    # A swapped-in build still retiring passages: read from the store, nothing saved.
    (folder / "retire.pending").write_text("")
    (folder / "manifest.json").write_text(json.dumps({"built_at": "2026-01-03T00:00:00Z"}))
    assert len(Metadata.for_index(store, paths).ids) == 0
    assert Metadata.load(paths.metadata, metadata_stamp(paths)) is None
    store.close()


HEAVY = ("torch", "thinc", "spacy", "sentence_transformers", "transformers")
ASK_IN_A_NEW_PROCESS = """
import json, sys
from pgxlit.cli.main import app
sys.argv = ["pgxlit", "ask", "Does CYP2C19 status change clopidogrel dosing?", "--json"]
try:
    app()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stdout.flush()
print("\\nMODULES " + json.dumps({"exit": code, "loaded": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


@pytest.mark.slow  # builds the small indexed store (test_index_qa's world)
def test_a_new_process_answers_without_spacy_thinc_or_torch(world: dict) -> None:  # noqa: F811
    settings = world["settings"]
    DrugCatalogue.from_store(world["store"])  # the catalogue cache, as any first ask on the store leaves it
    env = {**os.environ, "PGXLIT_HOME": str(settings.home), "PGXLIT_DB_URL": settings.resolved_db_url}
    done = subprocess.run([sys.executable, "-c", ASK_IN_A_NEW_PROCESS], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=600)
    report = json.loads(done.stdout.rsplit("MODULES ", 1)[1])
    assert report["exit"] == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.rsplit("MODULES ", 1)[0])
    assert answer["citations"] and not answer["refused"]
    assert report["loaded"] == []
