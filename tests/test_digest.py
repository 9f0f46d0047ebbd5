"""Label-change digest: alignment, sentence diff, editorial noise, PGx flag, ranking, outputs, CLI.

Pure functions are tested on small hand-built sections; the store and CLI on three real Xeloda
(capecitabine) versions cut down to a few fields (tests/fixtures/digest, made by make_fixtures.py
from ../shared/corpora/fda/openfda/history/NDA020896).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from pgxlit.cli import app
from pgxlit.config import Settings, get_settings
from pgxlit.digest.align import AlignedSection, align_sections, title_key
from pgxlit.digest.build import Selection, build_digest, digest_pair, plan_chains, rank_changes
from pgxlit.digest.diff import diff_section
from pgxlit.digest.model import Change, VersionRef
from pgxlit.digest.render import render
from pgxlit.digest.source import VersionMeta
from pgxlit.digest.text import canonical, editorial_key, split_sentences
from pgxlit.digest.watch import WatchOptions, parse_every, run_once
from pgxlit.ingest.load import Loader
from pgxlit.records import LabelVersion, Section
from pgxlit.store import Store

FIX = Path(__file__).parent / "fixtures" / "digest"
CAPECITABINE_SET = "a1de8bba-3b1d-4c9d-ab8a-32d2c05e67c8"
ITEM_KEYS = {"set_id", "drug", "old_version", "new_version", "section", "kind", "pgx_relevant", "rank",
             "old_text", "new_text", "cites"}


def label(version: int, sections: list[Section], date: str = "20200101", set_id: str = "s1",
          fmt: str = "openfda") -> LabelVersion:
    return LabelVersion(set_id=set_id, version=version, effective_time=date, spl_id=None, title="Testdrug",
                        generic_names=("CLOPIDOGREL",), sections=tuple(sections), source_format=fmt)


def sec(order: int, text: str, title: str | None = None, loinc: str | None = "42229-5", field: str | None = None,
        ) -> Section:
    return Section(order=order, text=text, field=field, loinc=loinc, title=title)


# ---- text and editorial noise ------------------------------------------------------------------
def test_editorial_noise_is_folded_but_real_edits_are_not() -> None:
    a = "Consider another P2Y12 inhibitor in CYP2C19 poor metabolizers (5.1) [see Warnings and Precautions (5.2)]."
    noisy = "Consider  another P2Y 12 inhibitor in CYP2C19 Poor Metabolizers ( 5.3 ) [see Warnings and Precautions (5.4) ] ."
    assert editorial_key(a) == editorial_key(noisy)
    assert canonical("5.2 Hepatotoxicity: “severe” – see Table 3") == canonical("5.3. Hepatotoxicity \"severe\" - see Table 4")
    assert editorial_key("The maximum dose is 20 mg once daily.") != editorial_key("The maximum dose is 40 mg once daily.")
    assert editorial_key("Dose is 2.5 mg.") != editorial_key("Dose is 25 mg.")


def test_sentences_split_at_periods_and_highlight_cross_references() -> None:
    text = ("No dose has been proven safe in patients with absent DPD activity. ( 5.4 ) Dehydration : Interrupt "
            "XELODA, e.g. for renal failure. Single agent: 1,250 mg/m 2 twice daily ( 2.1 ) Without Radiation "
            "Therapy: 825 mg/m 2.")
    assert split_sentences(text) == [
        "No dose has been proven safe in patients with absent DPD activity. ( 5.4 )",
        "Dehydration : Interrupt XELODA, e.g. for renal failure.",
        "Single agent: 1,250 mg/m 2 twice daily ( 2.1 )",
        "Without Radiation Therapy: 825 mg/m 2.",
    ]


def test_editorial_only_section_gives_no_change_and_is_counted() -> None:
    old = sec(0, "Tests are available to identify CYP2C19 poor metabolizers. ( 12.5 ) Consider another drug (5.1).",
              "5.1 Diminished Effect")
    new = sec(0, "Tests are available to identify CYP2C19 poor metabolizers. (12.5) Consider another drug ( 5.2 ).",
              "5.2 Diminished Effect")
    result = diff_section(AlignedSection(old, new, "title"))
    assert result.changes == () and result.editorial == 2


# ---- alignment -----------------------------------------------------------------------------------
def test_renamed_section_is_aligned_by_content_and_diffed_sentence_by_sentence() -> None:
    body = ("Hepatic failure has been reported. Monitor liver tests before each cycle. Stop the drug in patients "
            "who develop jaundice. Most cases occurred within the first three months.")
    old = [sec(0, body, "5.1 Hepatotoxicity"), sec(1, "Methemoglobinemia may occur at high doses.", "5.2 Methemoglobinemia")]
    new = [sec(0, "Methemoglobinemia may occur at high doses.", "5.1 Methemoglobinemia"),
           sec(1, body + " Liver injury can be fatal.", "5.2 Drug-Induced Liver Injury")]
    aligned = align_sections(old, new)
    pairs = {(a.old.title if a.old else None, a.new.title if a.new else None): a.how for a in aligned}
    assert pairs == {("5.1 Hepatotoxicity", "5.2 Drug-Induced Liver Injury"): "content",
                     ("5.2 Methemoglobinemia", "5.1 Methemoglobinemia"): "title"}
    changes = [c for a in aligned for c in diff_section(a).changes]
    assert [(c.kind, c.scope, c.new_text) for c in changes] == [("added", "sentence", "Liver injury can be fatal.")]


def test_loinc_pairs_first_and_unmatched_sections_are_whole_section_changes() -> None:
    old = [sec(0, "Boxed text.", "WARNING: X", "34066-1"), sec(1, "Old unrelated storage words here.", "Storage")]
    new = [sec(0, "Boxed text.", "WARNING: RENAMED", "34066-1"),
           sec(1, "The DPYD gene encodes DPD.", "12.5 Pharmacogenomics", "66106-6")]
    aligned = align_sections(old, new)
    # A removed section stays where it was in the old version, before what the new one added after it.
    assert [(a.how, bool(a.old), bool(a.new)) for a in aligned] == [("loinc", True, True), ("", True, False),
                                                                      ("", False, True)]
    kinds = [(c.kind, c.scope) for a in aligned for c in diff_section(a).changes]
    assert kinds == [("removed", "section"), ("added", "section")]
    assert title_key("12.5. PHARMACOGENOMICS") == title_key("12.6 Pharmacogenomics")


def test_reworded_sentence_is_a_change_and_unrelated_ones_are_added_and_removed() -> None:
    old = sec(0, "Patients who are CYP2C19 poor metabolizers should not exceed 20 mg per day. Store at room temperature.")
    new = sec(0, "Patients who are CYP2C19 poor metabolizers should not exceed 20 mg once daily. Keep out of reach of children.")
    changes = diff_section(AlignedSection(old, new, "loinc")).changes
    assert [c.kind for c in changes] == ["changed", "removed", "added"]
    assert changes[0].old_text.endswith("20 mg per day.") and changes[0].new_text.endswith("20 mg once daily.")


# ---- PGx flag and ranking ------------------------------------------------------------------------
def test_pgx_flag_comes_from_the_extraction_rules() -> None:
    dosage = ("Dosage", "34068-7", "dosage_and_administration")
    old = label(1, [sec(0, "Take with food. Strong CYP3A4 inhibitors increase exposure.", *dosage)])
    new = label(2, [sec(0, "Avoid in CYP2C19 poor metabolizers; tests are available to identify them. Take with "
                           "food. Strong CYP3A4 inhibitors increase exposure. Strong CYP2D6 inhibitors also "
                           "increase exposure.", *dosage)])
    pair = digest_pair(old, new)
    flags = {c.new_text: (c.kind, c.pgx_relevant) for c in pair.changes}
    assert flags == {"Avoid in CYP2C19 poor metabolizers; tests are available to identify them.": ("added", True),
                     "Strong CYP2D6 inhibitors also increase exposure.": ("added", False)}
    assert pair.changes[0].pgx_reasons == ("CYP2C19 Poor Metabolizer (new text)",)
    # Any change in the Pharmacogenomics section is PGx by where it is.
    pgx_old = label(1, [sec(0, "Four variants were studied.", "12.5 Pharmacogenomics", "66106-6", "pharmacogenomics")])
    pgx_new = label(2, [sec(0, "Five variants were studied.", "12.5 Pharmacogenomics", "66106-6", "pharmacogenomics")])
    [change] = digest_pair(pgx_old, pgx_new).changes
    assert change.pgx_relevant and change.pgx_reasons == ("pharmacogenomics section",) and change.tier == 4


def _change(tier: int, pgx: bool, weight: int = 0, order: int = 0) -> Change:
    ref = VersionRef("s", 1, "20200101")
    return Change(old=ref, new=VersionRef("s", 2, "20210101"), drug="d", section="x", section_field=None,
                  section_loinc=None, tier=tier, kind="changed", scope="sentence", old_text="a", new_text="b",
                  alignment="loinc", order=order, pgx_relevant=pgx, pgx_weight=weight)


def test_ranking_puts_pgx_first_then_boxed_warning_down_to_other() -> None:
    changes = [_change(5, False, order=0), _change(0, False, order=1), _change(4, True, 1, order=2),
               _change(2, True, 1, order=3), _change(2, True, 5, order=4), _change(0, True, 1, order=5)]
    ranked = rank_changes(changes)
    assert [c.order for c in ranked] == [5, 4, 3, 2, 1, 0]
    assert [c.rank for c in ranked] == [1, 2, 3, 4, 5, 6]


def _meta(row: int, set_id: str, version: int, date: str, app_no: str = "NDA1") -> VersionMeta:
    return VersionMeta(row, set_id, version, date, None, ("X",), (), (app_no,), None)


def test_a_label_continues_into_the_set_that_replaced_it_but_not_into_a_concurrent_one() -> None:
    metas = [_meta(1, "a", 27, "20190816"), _meta(2, "b", 31, "20200301"), _meta(3, "b", 34, "20210305"),
             _meta(4, "c", 2, "20210305"), _meta(5, "c", 3, "20220922"), _meta(6, "d", 1, "20200101", "NDA2"),
             _meta(7, "e", 1, "20200601", "NDA2"), _meta(8, "d", 2, "20230101", "NDA2")]
    chains = [[(m.set_id, m.version) for m in c] for c in plan_chains(metas)]
    assert [("a", 27), ("b", 31), ("b", 34), ("c", 2), ("c", 3)] in chains
    assert [("d", 1), ("d", 2)] in chains and [("e", 1)] in chains
    assert len(plan_chains(metas, cross_set=False)) == 5


# ---- store and command line on real (cut-down) Xeloda versions ---------------------------------------
def load_files(store: Store, *names: str) -> None:
    settings = Settings(home=Path(store.url.removeprefix("sqlite:///")).parent, db_url=store.url)
    report = Loader(store, settings).load([FIX / n for n in names])
    assert report.files_failed == 0


@pytest.fixture()
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PGXLIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PGXLIT_DB_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        get_settings.cache_clear()
        return runner.invoke(app, list(args))

    yield invoke
    get_settings.cache_clear()


def db_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "pgxlit.sqlite"


def test_json_contract_cites_both_versions_and_pgx_changes_rank_first(run, tmp_path: Path) -> None:
    assert run("load", str(FIX / "xeloda_v25_min.json"), str(FIX / "xeloda_v27_min.json")).exit_code == 0
    result = run("digest", "--format", "json", "--drug", "Xeloda")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    changes = data["changes"]
    assert changes and all(ITEM_KEYS <= c.keys() for c in changes)
    assert [c["rank"] for c in changes] == list(range(1, len(changes) + 1))
    first = changes[0]
    assert (first["set_id"], first["drug"], first["old_version"], first["new_version"]) == \
        (CAPECITABINE_SET, "capecitabine", 25, 27)
    assert first["pgx_relevant"] and first["kind"] in ("added", "removed", "changed")
    assert first["cites"]["old"] == {"set_id": CAPECITABINE_SET, "version": 25, "effective_date": "2021-06-01",
                                     "spl_id": first["cites"]["old"]["spl_id"], "manufacturer": "Genentech, Inc."}
    assert first["cites"]["new"]["effective_date"] == "2022-12-16"
    # The new Pharmacogenomics section and the rewritten DPD-deficiency warning are both flagged ...
    pgx = [c for c in changes if c["pgx_relevant"]]
    assert any(c["section_field"] == "pharmacogenomics" and c["kind"] == "added" and c["scope"] == "section"
               for c in pgx)
    assert any(c["section_field"] == "warnings_and_cautions" and "DPD" in c["new_text"] for c in pgx)
    # ... and rank above the (non-PGx) rewrite of the warfarin boxed warning.
    boxed = [c for c in changes if c["section_field"] == "boxed_warning"]
    assert boxed and not any(c["pgx_relevant"] for c in boxed)
    assert max(c["rank"] for c in pgx) < min(c["rank"] for c in boxed)


def test_label_with_one_version_only_has_nothing_to_compare(run) -> None:
    run("load", str(FIX / "xeloda_v27_min.json"))
    result = run("digest", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["changes"] == [] and data["pairs"] == []
    assert data["labels_with_one_version"] == [f"capecitabine ({CAPECITABINE_SET} v27)"]
    md = run("digest", "--format", "md")
    assert md.exit_code == 0 and "single stored version" in md.stdout


@pytest.mark.parametrize("damage", ["no sections", "garbage json"])
def test_corrupt_version_is_named_and_the_rest_is_digested(run, tmp_path: Path, damage: str) -> None:
    run("load", str(FIX / "xeloda_v25_min.json"), str(FIX / "xeloda_v27_min.json"), str(FIX / "xeloda_v28_min.json"))
    with sqlite3.connect(db_path(tmp_path)) as db:
        (row_id,) = db.execute("select id from label_versions where version = 27").fetchone()
        if damage == "no sections":
            db.execute("delete from sections where label_version_id = ?", (row_id,))
        else:
            db.execute("update label_versions set brand_names = '[not json' where id = ?", (row_id,))
    result = run("digest", "--format", "json")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    data = json.loads(result.stdout)
    assert len(data["errors"]) == 1 and f"{CAPECITABINE_SET} version 27" in data["errors"][0]
    assert "error:" in result.stderr and "version 27" in result.stderr
    assert [(p["old"]["version"], p["new"]["version"]) for p in data["pairs"]] == [(25, 28)]
    assert data["changes"][0]["pgx_relevant"]


def test_last_run_reports_each_label_update_once(run) -> None:
    run("load", str(FIX / "xeloda_v25_min.json"), str(FIX / "xeloda_v27_min.json"))
    first = json.loads(run("digest", "--last-run", "--format", "json").stdout)
    assert [(p["old"]["version"], p["new"]["version"]) for p in first["pairs"]] == [(25, 27)]
    again = json.loads(run("digest", "--last-run", "--format", "json").stdout)
    assert again["pairs"] == [] and again["changes"] == []
    run("load", str(FIX / "xeloda_v28_min.json"))
    third = json.loads(run("digest", "--last-run", "--format", "json").stdout)
    assert [(p["old"]["version"], p["new"]["version"]) for p in third["pairs"]] == [(27, 28)]
    # Another selection keeps its own mark: its first --last-run still sees everything.
    other = json.loads(run("digest", "--last-run", "--pgx-only", "--format", "json").stdout)
    assert [(p["old"]["version"], p["new"]["version"]) for p in other["pairs"]] == [(25, 27)]


def test_since_selects_by_effective_date(run) -> None:
    run("load", str(FIX / "xeloda_v25_min.json"), str(FIX / "xeloda_v27_min.json"), str(FIX / "xeloda_v28_min.json"))
    pairs = lambda r: [(p["old"]["version"], p["new"]["version"]) for p in json.loads(r.stdout)["pairs"]]  # noqa: E731
    assert pairs(run("digest", "--since", "2022-12-01", "--format", "json")) == [(25, 27), (27, 28)]
    assert pairs(run("digest", "--since", "20230101", "--format", "json")) == [(27, 28)]


def test_markdown_html_and_atom_outputs(run, tmp_path: Path) -> None:
    run("load", str(FIX / "xeloda_v25_min.json"), str(FIX / "xeloda_v27_min.json"))
    md = run("digest", "--format", "md", "--pgx-only").stdout
    assert md.startswith("# FDA label changes") and "v25 (2021-06-01) → v27 (2022-12-16)" in md and "**PGx**" in md
    out = tmp_path / "d.html"
    assert run("digest", "--format", "html", "--out", str(out)).exit_code == 0
    page = out.read_text()
    assert "<del>" in page and "<ins>" in page and "Pharmacogenomics" in page
    assert "<script" not in page and 'rel="stylesheet"' not in page  # self-contained
    feed = etree.fromstring(run("digest", "--format", "atom").stdout.encode())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = feed.findall("a:entry", ns)
    assert len(entries) == 1
    assert entries[0].findtext("a:id", namespaces=ns) == f"urn:pgxlit:label-change:{CAPECITABINE_SET}:25:{CAPECITABINE_SET}:27"
    assert entries[0].findtext("a:updated", namespaces=ns) == "2022-12-16T00:00:00Z"


def test_bad_input_gives_one_clear_line(run) -> None:
    for args, words in ((("--since", "yesterday"), "YYYY-MM-DD"), (("--format", "pdf"), "md, html, atom, json"),
                        (("--since", "2020-01-01", "--last-run"), "exclude each other")):
        result = run("digest", *args)
        assert result.exit_code == 1 and words in result.output and "Traceback" not in result.output
    assert run("watch", "--every", "soon", "--once").exit_code == 1


def test_watch_once_runs_every_step_and_logs_one_line(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.sqlite'}")
    settings = Settings(home=tmp_path, db_url=store.url)
    calls: list[str] = []

    def crawl(store: Store, settings: Settings, options: WatchOptions) -> dict:
        calls.append("crawl")
        report = Loader(store, settings).load([FIX / "xeloda_v25_min.json", FIX / "xeloda_v27_min.json"])
        return {"labels": {"label_versions_added": report.as_dict()["label_versions_added"]}, "history": {}}

    options = WatchOptions(out=str(tmp_path / "out" / "digest-{date}.json"), fmt="json")
    result = run_once(store, settings, options, crawl=crawl, extract=lambda *a: calls.append("extract") or {})
    assert result.ok, result.line
    assert calls == ["crawl", "extract"]
    assert result.line.startswith("watch run 1 ok") and "crawl +2 label versions" in result.line
    assert "indexed 2 documents" in result.line and "1 label updates" in result.line
    written = json.loads(Path(result.details["digest"]["path"]).read_text())
    assert written["changes"][0]["new_version"] == 27
    second = run_once(store, settings, options, 2, crawl=lambda *a: {"labels": {}, "history": {}},
                      extract=lambda *a: {})
    assert second.ok and "0 label updates" in second.line
    failing = run_once(store, settings, options, 3, crawl=lambda *a: 1 / 0)
    assert not failing.ok and "FAILED at crawl" in failing.line
    assert parse_every("1d") == 86400 and parse_every("30m") == 1800
    store.close()


def test_digest_of_store_without_extraction_still_flags_from_text(store: Store) -> None:
    load_files(store, "xeloda_v25_min.json", "xeloda_v27_min.json")
    digest = build_digest(store, Selection(pgx_only=True))
    assert digest.changes and all(c.pgx_relevant for c in digest.changes)
    assert not digest.pairs[0].triples_extracted
    assert render(digest, "md").count("**PGx**") == len(digest.changes)


def test_text_cut_into_sentences_differently_is_editorial() -> None:
    old = sec(0, "2.1 Screening Screen for the HLA-B*5701 allele before starting. 2.2 Adults The dose is 600 mg daily.")
    new = sec(0, "2.1 ScreeningScreen for the HLA‑B*5701 allele before starting.2.2 AdultsThe dose is 600 mg daily.")
    result = diff_section(AlignedSection(old, new, "loinc"))
    assert result.changes == () and result.editorial >= 1
    assert editorial_key("signs: o feel very weak o trouble breathing") == editorial_key("signs: • feel very weak • trouble breathing")


def test_cross_references_do_not_make_a_change_pgx() -> None:
    old = label(1, [sec(0, "There was no effect on growth in boys [see Dosage and Administration, Heterozygous Familial "
                           "Hypercholesterolemia in Pediatric Patients (2.2)].", "8.4 Pediatric Use")])
    new = label(2, [sec(0, "There was no effect on growth in boys or girls.", "8.4 Pediatric Use")])
    [change] = digest_pair(old, new).changes
    assert change.kind == "changed" and not change.pgx_relevant


def test_a_metabolizer_status_takes_the_gene_named_a_few_sentences_before() -> None:
    before = ("Tramadol is metabolized to M1 by CYP2D6. Approximately 7% of the population has reduced CYP2D6 "
              "activity. Tramadol is also metabolized by CYP3A4. ")
    old = label(1, [sec(0, before + "Concentrations were 20% higher in \"poor metabolizers\".", "Pharmacokinetics",
                        "43682-4", "pharmacokinetics")])
    new = label(2, [sec(0, before + "Concentrations were 25% higher in \"poor metabolizers\".", "Pharmacokinetics",
                        "43682-4", "pharmacokinetics")])
    [change] = digest_pair(old, new).changes
    assert change.pgx_relevant and any("CYP2D6" in r for r in change.pgx_reasons)


# ---- issue 17: debris, units, tables, origin, grouping by label ----------------------------------
def test_word_processor_debris_and_revision_stamps_are_editorial() -> None:
    cut = ("• Recent or contemplated surgery of the eye, or traumatic surgery resulting in large open surfaces "
           "(4 , Error! Hyperlink reference not valid.")
    meant = "•Recent or contemplated surgery of the eye, or traumatic surgery resulting in large open surfaces ( 4, 5.7 )"
    assert editorial_key(cut) == editorial_key(meant)  # warfarin v15: the error replaced a cross-reference
    assert editorial_key("Hyperlink reference not valid.") == editorial_key("Error! Reference source not found.") == ""
    assert editorial_key("Approved by the U.S. Food and Drug Administration. Revised: 3/2021") == \
        editorial_key("Approved by the U.S. Food and Drug Administration. Revised: 09/2021")
    old = sec(0, "Avoid in DPD deficiency. Take with food.")
    new = sec(0, "Avoid in DPD deficiency. Error! Hyperlink reference not valid. Take with food. Revised: 12/2022")
    assert diff_section(AlignedSection(old, new, "loinc")).changes == ()


def test_spacing_inside_units_is_folded_but_dose_values_never_are() -> None:
    assert editorial_key("↓ 25 mg/m2 over 90 minutes") == editorial_key("↓ 25 mg/m 2 over 90 minutes")
    assert editorial_key("≥1500/mm3") == editorial_key("≥1500/mm 3")
    for old, new in (("↓ 25 mg/m2", "↓ 50 mg/m2"), ("2.5 mg | once daily", "25 mg | once daily"),
                     ("20 mg | once daily", "40 mg | once daily"), ("5-7 mg", "57 mg"), ("0.5-2 mg", "0.5-2.5 mg")):
        assert editorial_key(old) != editorial_key(new), (old, new)


def test_a_heading_after_a_flattened_table_starts_its_own_sentence() -> None:
    text = ("Other toxicities 4 Omit dose until resolved to ≤ grade 2, then ↓ 50 mg/m 2 ↓ 50 mg/m 2 2.3 Dosage in "
            "Patients With Reduced UGT1A1 Activity Consider a reduction in the starting dose.")
    assert split_sentences(text)[-1] == ("2.3 Dosage in Patients With Reduced UGT1A1 Activity Consider a reduction "
                                         "in the starting dose.")
    assert len(split_sentences("See Table 2.1 Adverse Reactions In Patients With Cancer for details.")) == 1


def test_table_rows_are_recognised_in_tables_and_in_tables_run_into_text() -> None:
    from pgxlit.digest.text import looks_like_table

    assert looks_like_table("Grade 2 | ↓ 25 mg/m2 | Maintain dose level")
    run_in = ("Diarrhea 1 (2–3 stools/day > pretx) Maintain dose level Maintain dose level Maintain dose level 2 "
              "(4–6 stools/day > pretx) ↓ 25 mg/m 2 Maintain dose level Maintain dose level 3 (7–9 stools/day > "
              "pretx) Omit dose until resolved to ≤ grade 2, then ↓ 25 mg/m 2 ↓ 25 mg/m 2 ↓ 50 mg/m 2")
    assert looks_like_table(run_in)
    assert not looks_like_table("Individuals who are homozygous for the UGT1A1*28 allele are at increased risk for "
                                "neutropenia following initiation of treatment, and the risk is greater at higher "
                                "doses; consider a reduction in the starting dose by at least one level.")


def test_germline_pgx_outranks_a_tumour_biomarker_and_new_text_outranks_a_table_row() -> None:
    from dataclasses import replace

    warning = replace(_change(3, True, 3, order=0), kind="added", origin="germline")
    her2_dose = replace(_change(2, True, 9, order=1), origin="somatic")
    dose_row = replace(_change(2, True, 9, order=2), table_row=True, origin="germline")
    ordinary = _change(0, False, order=3)
    assert [c.order for c in rank_changes([ordinary, dose_row, her2_dose, warning])] == [0, 2, 1, 3]


def test_changes_are_grouped_by_label_with_one_line_each() -> None:
    from dataclasses import replace

    from pgxlit.digest.model import Digest, PairDigest

    def pair(old_set: str, old_v: int, new_set: str, new_v: int, date: str, changes: list[Change]) -> PairDigest:
        old, new = VersionRef(old_set, old_v, "20190101"), VersionRef(new_set, new_v, date)
        return PairDigest(old, new, "clopidogrel", "Plavix (clopidogrel)",
                          tuple(replace(c, old=old, new=new) for c in changes), 0, {})

    pgx = replace(_change(3, True, 3), pgx_reasons=("CYP2C19 Poor Metabolizer (new text)",), rank=1)
    pairs = (pair("a", 27, "b", 31, "20200301", [pgx]), pair("b", 31, "b", 34, "20210305", [replace(_change(5, False), rank=3)]),
             pair("x", 1, "x", 2, "20220101", [replace(_change(5, False), rank=2)]))
    digest = Digest("now", {}, pairs, tuple(c for p in pairs for c in p.changes))
    first, second = digest.labels
    assert first.set_ids == ("a", "b") and len(first.pairs) == 2 and second.set_ids == ("x",)
    assert first.line() == ("Plavix (clopidogrel) — v27 (2019-01-01) → v34 (2021-03-05), 2 updates — 1 PGx change in "
                            "v27→v31; CYP2C19; warnings and precautions; 1 other")
    md = render(digest, "md")
    summary, details = md.split("\n---\n")
    assert [line for line in summary.splitlines() if line[:3] in ("1. ", "2. ")] == [
        f"1. **Plavix (clopidogrel)** — {first.versions()} — {first.pgx_line()}; 1 other",
        f"2. **Plavix (clopidogrel)** — {second.versions()} — {second.pgx_line()}; 1 other"]
    assert details.index("v27 (2019-01-01) → set b v31") < details.index("set b: v31")
    assert json.loads(render(digest, "json"))["labels"][0]["pgx_genes"] == ["CYP2C19"]


def test_a_labels_updates_are_read_in_version_order_even_when_a_date_repeats() -> None:
    from pgxlit.digest.model import PairDigest, group_labels

    def pair(old_v: int, old_date: str, new_v: int, new_date: str) -> PairDigest:
        return PairDigest(VersionRef("e", old_v, old_date), VersionRef("e", new_v, new_date), "eliglustat", "Cerdelga",
                          (), 0, {})

    # eliglustat: v8 carries v4's date again
    [group] = group_labels([pair(6, "20230209", 8, "20180914"), pair(3, "20180901", 4, "20180914"),
                            pair(4, "20180914", 6, "20230209")])
    assert [(p.old.version, p.new.version) for p in group.pairs] == [(3, 4), (4, 6), (6, 8)]
    assert group.versions() == "v3 (2018-09-01) → v8 (2018-09-14), 3 updates"


def test_a_row_of_a_table_run_into_the_prose_is_a_table_row_by_the_parsed_table() -> None:
    from pgxlit.ingest.tables import RawCell, build_table

    def version(v: int, dose: str) -> LabelVersion:
        grid = build_table([[RawCell("Genotype", is_header=True), RawCell("Daily dose", is_header=True)],
                            [RawCell("CYP2C19 *1/*1"), RawCell("40 mg")], [RawCell("CYP2C19 *2/*2"), RawCell(dose)]],
                           caption="Table 1 Dose by genotype")
        prose = ("Use the lowest dose. Table 1 Dose by genotype Genotype Daily dose CYP2C19 *1/*1 40 mg "
                 f"CYP2C19 *2/*2 {dose}")
        return label(v, [Section(order=0, text=prose, field="dosage_and_administration", loinc="34068-7"),
                         Section(order=1, text=f"Genotype | Daily dose\nCYP2C19 *2/*2 | {dose}",
                                 field="dosage_and_administration_table", loinc="34068-7", is_table=True,
                                 tables=(grid,))])

    changes = digest_pair(version(1, "20 mg"), version(2, "10 mg"), extractor=None).changes
    prose = [c for c in changes if c.section_field == "dosage_and_administration"]
    assert prose and all(c.table_row for c in prose)  # short, no " | ": known only from the parsed table
    assert all(c.table_row for c in changes)
