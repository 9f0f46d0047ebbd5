"""Build the demo snapshot in corpora/snapshot with our own crawlers.

The crawlers run against the replay of the recorded real API responses in
../shared/corpora, into a throw-away store; the raw responses they stored are
then written out with `pgxlit.ingest.snapshot.write_snapshot`. `make demo`
loads the result with `pgxlit load corpora/snapshot`.

    python tools/build_snapshot.py --shared ../shared --out corpora/snapshot
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from pgxlit.config import Settings
from pgxlit.ingest.crawl_dailymed import DailyMedCrawler
from pgxlit.ingest.crawl_openfda import OpenFdaCrawler, build_label_query
from pgxlit.ingest.crawl_pubmed import PubMedCrawler
from pgxlit.ingest.http import HttpFetcher
from pgxlit.replay.server import ReplayServer
from pgxlit.ingest.snapshot import write_snapshot
from pgxlit.store import Store

# Labels the later stages are judged on (the digest's must-catch list, the pharmacist examples).
DRUGS = (
    "capecitabine", "siponimod", "clopidogrel", "citalopram", "abacavir", "codeine", "warfarin",
    "tramadol", "carbamazepine", "phenytoin", "irinotecan", "tamoxifen", "thioguanine",
    "azathioprine", "mercaptopurine", "eliglustat", "tetrabenazine", "atomoxetine", "rasburicase",
    "tafenoquine", "primaquine", "lapatinib", "voriconazole", "fluorouracil", "allopurinol",
    "fosphenytoin", "escitalopram", "simvastatin", "oxcarbazepine", "succinylcholine",
)
DAILYMED_SETS = ("9525f887-a055-4e33-8e92-898d42828cd1",)  # VITRAKVI: NTRK biomarker label history
PUBMED = {
    "CYP2C19 AND clopidogrel": 80,
    "(VKORC1 OR CYP2C9) AND warfarin": 120,
    "HLA-B AND (abacavir OR carbamazepine OR allopurinol OR phenytoin)": 80,
    "DPYD AND (fluorouracil OR capecitabine)": 40,
    "TPMT OR NUDT15": 60,
    "UGT1A1 AND irinotecan": 50,
    "CYP2D6 AND (codeine OR tamoxifen OR tramadol OR atomoxetine)": 80,
    "SLCO1B1 AND (simvastatin OR statin)": 50,
    "CYP2C19 AND (citalopram OR escitalopram OR voriconazole)": 50,
    "CYP3A5 AND tacrolimus": 40,
    "CYP2B6 AND efavirenz": 40,
    "G6PD": 30,
    "polymorphism AND (toxicity OR response)": 60,
}


def build(shared: Path, out: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, ReplayServer(shared / "corpora") as server:
        settings = Settings(
            home=Path(tmp), db_url=f"sqlite:///{tmp}/snapshot.sqlite", openfda_page_size=100,
            **server.base_urls,
        )
        store = Store(settings.resolved_db_url)
        with HttpFetcher(settings) as fetcher:
            OpenFdaCrawler(store, fetcher, settings).crawl(build_label_query(drugs=DRUGS))
            DailyMedCrawler(store, fetcher, settings).crawl(DAILYMED_SETS)
            crawler = PubMedCrawler(store, fetcher, settings)
            for query, limit in PUBMED.items():
                crawler.crawl(query, max_records=limit)
        if out.exists():
            shutil.rmtree(out)
        report = write_snapshot(store, out)
        return {**report, **store.stats()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--out", type=Path, default=Path("corpora/snapshot"))
    args = ap.parse_args()
    if not (args.shared / "corpora").is_dir():
        print(f"error: no recorded corpora at {args.shared / 'corpora'}", file=sys.stderr)
        return 2
    for key, value in build(args.shared, args.out).items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
