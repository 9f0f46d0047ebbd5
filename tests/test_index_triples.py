"""Triple entries in the index: embedded from their facts only (short, shared by repeats), and refreshed by
an incremental `pgxlit index` when a document is re-extracted (or a triple rejected) without its text changing.

One real label version from the bundled snapshot (clopidogrel, which has CYP2C19 triples), extracted with
the real pipeline and indexed with the shipped MiniLM.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pgxlit.config import Settings
from pgxlit.index.embed import embedder_for
from pgxlit.records import LabelVersion
from pgxlit.store import SaveCounts, Store

SNAPSHOT = Path(__file__).resolve().parents[1] / "corpora" / "snapshot"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A store holding clopidogrel's newest label version, extracted and indexed."""
    from pgxlit.extract.run import run_extraction
    from pgxlit.index.build import update_index
    from pgxlit.ingest.load import Loader

    if not (SNAPSHOT / "manifest.tsv").is_file():
        pytest.skip(f"the bundled snapshot is missing at {SNAPSHOT}")
    full_home = tmp_path_factory.mktemp("full")
    full = Store(f"sqlite:///{full_home / 'full.sqlite'}")
    Loader(full, Settings(home=full_home)).load([SNAPSHOT])
    labels = [lv for lv in full.label_versions() if "clopidogrel" in " ".join(lv.generic_names).lower()]
    label: LabelVersion = max(labels, key=lambda lv: (len(lv.sections), lv.version))
    full.close()
    home = tmp_path_factory.mktemp("triples")
    settings = Settings(home=home, db_url=f"sqlite:///{home / 'pgxlit.sqlite'}", index_kind="flat")
    store = Store(settings.resolved_db_url)
    with store.transaction() as session:
        store.save_label_version(session, label, None, SaveCounts())
    run_extraction(store)
    report = update_index(store, settings)
    return {"store": store, "settings": settings, "label": label, "report": report}


def _live_entries(store: Store, doc_key: str) -> dict[str, int]:
    return {p.text: int(p.id) for p in store.passages_of(doc_key) if p.kind == "triple"}  # type: ignore[misc]


def test_triple_entries_are_embedded_from_their_facts_once(indexed: dict) -> None:
    from pgxlit.index import dense
    from pgxlit.index.passages import embeddable, vector_text
    from pgxlit.index.paths import index_paths
    from pgxlit.index.search import Searcher

    store, settings = indexed["store"], indexed["settings"]
    assert settings.index.triple_vectors == "facts"
    rows = list(store.passage_rows())
    entries = {r[0] for r in rows if r[1] == "triple"}
    passages = {r[0] for r in rows if r[1] == "passage" and embeddable(r[5], bool(r[12]))}
    assert entries, "clopidogrel's label has PGx triples, so it has triple entries"
    index = dense.load(index_paths(settings).dense)
    assert set(dense.ids(index).tolist()) == passages | entries  # every row keeps its own vector id
    texts = dict(store.passage_texts(sorted(entries)))
    facts = {pid: vector_text(t, "triple") for pid, t in texts.items()}
    assert all(f and f != texts[pid] and texts[pid].startswith(f + ". ") for pid, f in facts.items())
    assert indexed["report"]["texts_embedded"] <= len(passages) + len(set(facts.values()))
    assert len(set(facts.values())) < len(entries), "repeated facts are embedded once"
    some = sorted(entries)[:3]
    stored = np.vstack([index.reconstruct(int(pid)) for pid in some])
    assert np.allclose(stored, embedder_for(settings).encode([facts[pid] for pid in some]), atol=1e-5)
    hits = Searcher(store, settings).search("clopidogrel CYP2C19 poor metabolizer", 10, mode="lexical")
    assert any(h.via_triple for h in hits), "BM25 reaches evidence passages through triple entries"
    assert not embeddable("warnings", False, kind="triple", triple_vectors="none")
    with pytest.raises(ValueError, match="triple_vectors"):
        embeddable("warnings", False, kind="triple", triple_vectors="sentence")


def test_incremental_index_refreshes_triple_entries_after_reextraction(indexed: dict) -> None:
    from pgxlit.extract.pipeline import extractor_name
    from pgxlit.index import dense
    from pgxlit.index.build import update_index
    from pgxlit.index.paths import index_paths
    from pgxlit.index.search import Searcher

    store, settings, label = indexed["store"], indexed["settings"], indexed["label"]
    doc_key = f"label:{label.set_id}:{label.version}"
    [(_, sha, _)] = [d for d in store.documents_for_extraction() if d[0] == doc_key]
    triples = [t for t in store.triples_of([doc_key])[doc_key] if t.pgx]
    assert len(triples) >= 2
    before = _live_entries(store, doc_key)
    passage_ids = sorted(int(p.id) for p in store.passages_of(doc_key) if p.kind == "passage")  # type: ignore[arg-type]
    vectors_before = set(dense.ids(dense.load(index_paths(settings).dense)).tolist())

    # A re-extraction (another extractor, say) that finds one triple no longer and reads another differently.
    dropped, changed = triples[0], triples[1]
    renamed = replace(changed, variant="zzqvariant", effect="toxicity")
    kept = [t for t in store.triples_of([doc_key])[doc_key] if t not in (dropped, changed)]
    with store.transaction() as session:
        store.replace_triples(session, doc_key, sha, extractor_name(), [*kept, renamed])

    report = update_index(store, settings)
    assert report["documents_indexed"] == 0 and report["triple_documents_refreshed"] == 1
    assert report["passages_added"] == 1 and report["texts_embedded"] == 1  # only the new triple's facts
    after = _live_entries(store, doc_key)
    new = [text for text in after if "zzqvariant" in text]
    assert len(new) == 1 and new[0] not in before
    gone = set(before) - set(after)
    assert gone and all(changed.evidence.sentence in t or dropped.evidence.sentence in t for t in gone)
    assert not {before[t] for t in gone} & {r[0] for r in store.passage_rows()}, "stale entries are retired"
    assert sorted(int(p.id) for p in store.passages_of(doc_key) if p.kind == "passage") == passage_ids  # type: ignore[arg-type]
    vectors_after = set(dense.ids(dense.load(index_paths(settings).dense)).tolist())
    assert vectors_after == (vectors_before - {before[t] for t in gone}) | {after[new[0]]}

    hits = Searcher(store, settings).search("zzqvariant", 5, mode="lexical")
    assert hits and hits[0].via_triple and hits[0].passage.id in passage_ids

    # Nothing changed since: the next run rewrites nothing.
    again = update_index(store, settings)
    assert again["triple_documents_refreshed"] == 0 and _live_entries(store, doc_key) == after

    # A rejected triple leaves the index at the next run too.
    [entry] = [e for e in store.triple_entries_in_order(pgx=True, latest_only=False) if e.triple.variant == "zzqvariant"]
    store.review([entry.id], "reject", "test", "not in the label")
    assert update_index(store, settings)["triple_documents_refreshed"] == 1
    assert not [t for t in _live_entries(store, doc_key) if "zzqvariant" in t]
    assert not Searcher(store, settings).search("zzqvariant", 5, mode="lexical")


def test_repeated_texts_are_embedded_once_per_build() -> None:
    from pgxlit.index.build import DistinctEncoder
    from pgxlit.index.embed import get_embedder

    model = get_embedder()
    texts = ["CYP2C19 poor metabolizers have higher exposure.", "Abacavir requires HLA-B*57:01 screening.",
             "Codeine is contraindicated in ultrarapid metabolizers."]
    encoder = DistinctEncoder(model, limit=2)
    first = encoder.encode([texts[0], texts[1], texts[0]])
    second = encoder.encode([texts[1], texts[2], texts[1]])
    assert encoder.encoded == 3  # the repeat across calls is remembered too
    direct = model.encode(texts)
    assert np.allclose(first, direct[[0, 1, 0]], atol=1e-6) and np.allclose(second, direct[[1, 2, 1]], atol=1e-6)
    encoder.encode([texts[0]])  # pushed out by the bound of 2: encoded again
    assert encoder.encoded == 4
