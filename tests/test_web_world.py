"""A small real store for the web, API, MCP and browser tests (built once per test process).

From the bundled snapshot (our own crawl of the recorded APIs): abacavir's newest label, the last
two versions of clopidogrel's Plavix label (so the digest and the label diff have a real
change), a few clopidogrel abstracts, and one abstract whose text carries a `<script>` tag, all
extracted with the real pipeline and indexed with the shipped MiniLM model. Only a handful of
documents are indexed: embedding is the slow step on a small machine.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from pgxlit.config import Settings
from pgxlit.records import Abstract, AbstractSection, LabelVersion
from pgxlit.store import SaveCounts, Store

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "corpora" / "snapshot"
PLAVIX_SET = "01b14603-8f29-4fa3-8d7e-9d523f802e0b"
SCRIPT_PMID = "99999997"
SCRIPT_TEXT = ("<script>window.__pgxlit_xss = 1</script> In our cohort, abacavir hypersensitivity was strongly "
               "associated with HLA-B*57:01 carriage, and clopidogrel response was reduced in CYP2C19 poor "
               "metabolizers.")
TOKEN = "test-curator-token"

_WORLD: dict[str, Any] = {}


def build_world() -> dict[str, Any]:
    """Load, pick, extract, index: every step as a user runs them, on a few documents."""
    if _WORLD:
        return _WORLD
    from pgxlit.extract.run import run_extraction
    from pgxlit.index.build import update_index
    from pgxlit.ingest.load import Loader

    if not (SNAPSHOT / "manifest.tsv").is_file():
        pytest.skip(f"the bundled snapshot is missing at {SNAPSHOT}")
    root = Path(tempfile.mkdtemp(prefix="pgxlit-web-"))
    atexit.register(shutil.rmtree, root, True)
    full = Store(f"sqlite:///{root / 'full.sqlite'}")
    Loader(full, Settings(home=root)).load([SNAPSHOT])
    versions = full.label_versions()
    plavix = sorted((lv for lv in versions if lv.set_id == PLAVIX_SET), key=lambda lv: lv.version)[-2:]
    abacavir_sets: dict[str, list[LabelVersion]] = {}
    for lv in versions:
        if any(n.lower().startswith("abacavir") for n in lv.generic_names):
            abacavir_sets.setdefault(lv.set_id, []).append(lv)
    abacavir = max(next(iter(sorted(abacavir_sets.values(), key=len))), key=lambda lv: lv.version)
    abstracts = []
    for _key, _sha, record in full.documents_for_extraction():
        if isinstance(record, Abstract) and "clopidogrel" in (record.title + record.abstract_text).lower():
            abstracts.append(record)
        if len(abstracts) >= 3:
            break
    full.close()
    script = Abstract(pmid=SCRIPT_PMID, title="Abacavir, clopidogrel and <b>bold</b> claims",
                      sections=(AbstractSection(SCRIPT_TEXT),), pub_year=2024)
    home = root / "home"
    settings = Settings(home=home, db_url=f"sqlite:///{home / 'pgxlit.sqlite'}", web_token=TOKEN)
    store = Store(settings.resolved_db_url)
    with store.transaction() as session:
        for lv in [*plavix, abacavir]:
            store.save_label_version(session, lv, None, SaveCounts())
        for a in [*abstracts, script]:
            store.save_abstract(session, a, None, SaveCounts())
    run_extraction(store)
    update_index(store, settings)
    _WORLD.update(root=root, settings=settings, store=store, plavix=plavix, abacavir=abacavir)
    return _WORLD
