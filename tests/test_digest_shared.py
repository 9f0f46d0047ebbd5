"""The digest on the recorded FDA label histories (../shared/corpora/fda): the must-catch changes.

Skipped when ../shared is absent. One digest of seven labels' histories is built for the module:
the four PGx labels of issue 6, irinotecan and warfarin (issue 17), and INOmax (nitric oxide),
whose SPL versions carry no PGx text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgxlit.config import Settings
from pgxlit.digest.build import Selection, build_digest
from pgxlit.digest.model import Digest
from pgxlit.ingest.load import Loader
from pgxlit.store import Store

CAPECITABINE = "a1de8bba-3b1d-4c9d-ab8a-32d2c05e67c8"
CLOPIDOGREL_SETS = ("c62e99a1", "01b14603", "de8b0b67")


@pytest.fixture(scope="module")
def digest(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Digest:
    tmp = tmp_path_factory.mktemp("digest")
    settings = Settings(home=tmp, db_url=f"sqlite:///{tmp / 'fda.sqlite'}")
    store = Store(settings.resolved_db_url)
    assert Loader(store, settings).load([shared / "corpora/fda"]).files_failed == 0
    result = build_digest(store, Selection(drugs=("capecitabine", "siponimod", "clopidogrel", "citalopram", "INOmax",
                                                  "irinotecan", "warfarin")))
    store.close()
    assert result.errors == ()
    return result


def of(digest: Digest, drug: str) -> list:
    return [c for c in digest.changes if c.drug == drug]


def test_capecitabine_pgx_section_and_dpyd_rewrite_is_its_top_change(digest: Digest) -> None:
    items = of(digest, "capecitabine")
    top = items[0]
    assert (top.old.set_id, top.old.version, top.new.version, top.pgx_relevant) == (CAPECITABINE, 25, 27, True)
    pair = [c for c in items if (c.old.version, c.new.version) == (25, 27)]
    assert any(c.section_field == "pharmacogenomics" and c.scope == "section" and c.kind == "added" for c in pair)
    rewritten = [c for c in pair if c.section_field == "warnings_and_cautions" and c.kind == "changed" and c.pgx_relevant]
    assert any("absent DPD activity" in c.old_text and "complete DPD deficiency" in c.new_text for c in rewritten)
    # Earlier capecitabine updates rank below it: none of them touched its PGx text.
    assert all(not c.pgx_relevant for c in items if (c.old.version, c.new.version) != (25, 27))


def test_siponimod_cyp2c9_text_is_followed_across_versions(digest: Digest) -> None:
    pgx = [c for c in of(digest, "siponimod") if c.pgx_relevant]
    assert {(c.old.version, c.new.version) for c in pgx} == {(2, 3), (6, 7)}
    assert all(any("CYP2C9" in r for r in c.pgx_reasons) for c in pgx)
    assert any("*5, *6, *8, *11" in c.new_text and c.kind == "added" for c in pgx)
    # The CYP2C9*3/*3 contraindication is the same in every version: never reported as a change.
    assert not [c for c in of(digest, "siponimod") if c.section_field == "contraindications"]


def test_clopidogrel_boxed_warning_is_tracked_across_three_set_ids(digest: Digest) -> None:
    pairs = [p for p in digest.pairs if p.drug == "clopidogrel"]
    chain = sorted((p.old.set_id[:8], p.old.version, p.new.set_id[:8], p.new.version) for p in pairs)
    assert ("c62e99a1", 27, "01b14603", 31) in chain and ("01b14603", 34, "de8b0b67", 2) in chain
    assert len(chain) == 6 and {p.new.set_id[:8] for p in pairs} | {p.old.set_id[:8] for p in pairs} == set(CLOPIDOGREL_SETS)
    # Its CYP2C19 boxed warning differs between versions only in spacing and numbering: folded, not reported.
    assert not [c for c in of(digest, "clopidogrel") if c.section_field == "boxed_warning"]
    assert sum(p.editorial_folded for p in pairs) > 0
    # CYP2C19 inducers and inhibitors added in v34 are drug interactions, not pharmacogenomics.
    inducers = [c for c in of(digest, "clopidogrel") if "inducers of CYP2C19" in c.new_text]
    assert inducers and not any(c.pgx_relevant for c in inducers)


def test_citalopram_cyp2c19_dosing_is_a_pgx_dosage_change(digest: Digest) -> None:
    dosing = [c for c in of(digest, "citalopram") if c.pgx_relevant and c.section_field == "dosage_and_administration"]
    assert any("CYP2C19 poor metabolizers" in c.new_text and "20 mg" in c.new_text for c in dosing)


def test_ordinary_edits_in_labels_without_pgx_content_rank_below(digest: Digest) -> None:
    inomax = of(digest, "nitric oxide")
    assert inomax and not any(c.pgx_relevant for c in inomax)
    tops = [of(digest, d)[0].rank for d in ("capecitabine", "siponimod", "citalopram")]
    assert max(tops) < min(c.rank for c in inomax)


def test_capecitabine_dpyd_warning_rewrite_ranks_before_the_her2_gastric_dosing(digest: Digest) -> None:
    items = of(digest, "capecitabine")
    dpyd = min(c.rank for c in items if c.section_field == "warnings_and_cautions" and c.pgx_relevant
               and "DPD deficiency" in c.new_text)
    her2 = [c for c in items if "HER2-overexpressing" in c.new_text and c.section_field == "dosage_and_administration"]
    assert her2 and dpyd < min(c.rank for c in her2)
    # A tumour biomarker is never ranked as germline PGx, but the digest still sees it as one.
    assert all(c.origin != "germline" for c in her2)
    assert any(c.pgx_relevant and c.origin == "somatic" and any("tumour biomarker" in r for r in c.pgx_reasons)
               for c in her2)


def test_irinotecan_new_ugt1a1_warning_ranks_before_its_dose_tables(digest: Digest) -> None:
    items = [c for c in of(digest, "irinotecan") if (c.old.version, c.new.version) == (27, 28)]
    warning = [c for c in items if c.section_field == "warnings_and_cautions" and c.kind == "added" and c.pgx_relevant
               and "Increased Risk of Neutropenia in Patients With Reduced UGT1A1 Activity" in c.new_text]
    assert warning
    tables = [c for c in items if c.table_row]
    assert tables and warning[0].rank < min(c.rank for c in tables)
    # The dose-modification table changed only in unit spacing ("mg/m2" -> "mg/m 2"): folded, not a change.
    assert not [c for c in items if "Maintain dose level" in c.old_text + c.new_text and "mg/m" in c.new_text]


def test_word_processor_debris_in_warfarin_is_folded(digest: Digest) -> None:
    items = of(digest, "warfarin")
    assert items and not [c for c in items if "Error!" in c.new_text or "Hyperlink reference" in c.new_text]


def test_markdown_opens_with_one_line_per_label(digest: Digest) -> None:
    from pgxlit.digest.render import render

    md = render(digest, "md")
    summary = md.split("\n---\n")[0].splitlines()
    lines = [line for line in summary if line[:1].isdigit() and ". **" in line]
    assert len(lines) == len([g for g in digest.labels if g.changes]) == 7
    assert len(summary) < 25  # one screen before the details
    assert lines[0].startswith("1. **Camptosar") or lines[0].startswith("1. **Xeloda")
    xeloda = next(line for line in lines if "Xeloda" in line)
    assert "v20 (2019-04-10) → v28 (2023-11-28)" in xeloda and "in v25→v27" in xeloda and "DPYD" in xeloda
    # An SPL title is the whole Highlights sentence: the line names the label by its "BRAND (drug)" phrase.
    assert "no PGx change" in next(line for line in lines if "**INOMAX (nitric oxide)**" in line)


def test_watch_once_crawls_through_the_replay_server(shared: Path, tmp_path: Path) -> None:
    from pgxlit.digest.watch import WatchOptions, run_once
    from pgxlit.replay.server import ReplayServer

    with ReplayServer(shared / "corpora") as server:
        settings = Settings(home=tmp_path, db_url=f"sqlite:///{tmp_path / 'w.sqlite'}", openfda_rate_per_min=600_000,
                            dailymed_rate_per_sec=10_000, **server.base_urls)
        store = Store(settings.resolved_db_url)
        options = WatchOptions(drugs=("capecitabine",), history=False, fmt="json",
                               out=str(tmp_path / "digest-{date}.json"))
        result = run_once(store, settings, options)
        store.close()
    assert result.ok, result.line
    # The replay answers with every recorded openFDA version of Xeloda: six versions, five updates.
    assert "crawl +6 label versions" in result.line and "extracted 6 documents" in result.line
    assert "digest 5 label updates" in result.line
    first = json.loads(Path(result.details["digest"]["path"]).read_text())["changes"][0]
    assert (first["set_id"], first["old_version"], first["new_version"], first["pgx_relevant"]) == (CAPECITABINE, 25, 27, True)
