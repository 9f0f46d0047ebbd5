"""The bundled snapshot's three drugs extracted into a temporary store with the real pipeline.

Shared by the knowledge and claim-edit tests: their latest labels and the abstracts naming them,
triples stored, and (when asked) passages stored without embedding so answers can cite sentences.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pgxlit.config import Settings
from pgxlit.store import Store

SNAPSHOT = Path(__file__).resolve().parents[1] / "corpora" / "snapshot"
SNAPSHOT_DRUGS = ("codeine", "capecitabine", "simvastatin")


def extracted_snapshot(home: Path, *, passages: bool = False) -> tuple[Settings, Store]:
    """(settings, store) for `home` holding the snapshot, its three drugs extracted; skips without the snapshot."""
    from pgxlit.extract.pipeline import extractor_name
    from pgxlit.extract.triples import iter_triples
    from pgxlit.index.passages import abstract_passages, label_passages
    from pgxlit.ingest.load import Loader
    from pgxlit.records import Abstract

    if not (SNAPSHOT / "manifest.tsv").is_file():
        pytest.skip(f"the bundled snapshot is missing at {SNAPSHOT}")
    settings = Settings(home=home, db_url=f"sqlite:///{home / 'pgxlit.sqlite'}")
    store = Store(settings.resolved_db_url)
    assert Loader(store, settings).load([SNAPSHOT]).files_failed == 0
    latest: dict[str, tuple] = {}
    abstracts = []
    for key, sha, record in store.documents_for_extraction():
        if isinstance(record, Abstract):
            text = " ".join([record.title, *(s.text for s in record.sections)]).lower()
            if any(d in text for d in SNAPSHOT_DRUGS):
                abstracts.append((key, sha, record))
        elif any(d in " ".join(record.generic_names).lower() for d in SNAPSHOT_DRUGS):
            kept = latest.get(record.set_id)
            if kept is None or record.version > kept[2].version:
                latest[record.set_id] = (key, sha, record)
    docs = [*latest.values(), *abstracts]
    extractor = extractor_name()
    for key, sha, triples in iter_triples(docs):
        with store.transaction() as session:
            store.replace_triples(session, key, sha, extractor, triples)
    if passages:
        with store.transaction() as session:
            for _key, sha, record in docs:
                cut = abstract_passages(record) if isinstance(record, Abstract) else label_passages(record)
                store.add_passages(session, sha, cut)
    return settings, store
