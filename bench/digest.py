"""Digest benchmark: time and peak memory to diff every recorded label-version pair.

    python bench/digest.py --shared ../shared            # loads ../shared/corpora/fda into a temporary store
    python bench/digest.py --db sqlite:///path.sqlite    # an existing store (e.g. one with extracted triples)
    python bench/digest.py --db ... --sample 40 --seed 2026   # also print flagged changes to check by hand

Three passes over the same pairs: alignment + sentence diff alone, then the whole digest (with the
PGx judgement by the extraction rules and the stored-triple comparison), then the rendering of
each output format. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from pgxlit.config import Settings
from pgxlit.digest.build import Selection, build_digest, plan_chains
from pgxlit.digest.align import align_sections, merge_by_field
from pgxlit.digest.diff import diff_section
from pgxlit.digest.render import FORMATS, render
from pgxlit.digest.source import CorruptVersion, load_version, version_index
from pgxlit.store import Store


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def diff_only(store: Store) -> tuple[int, int, int, int]:
    """(pairs, section pairs, changes, editorial) for every consecutive pair, without classification."""
    pairs = sections = changes = editorial = 0
    for chain in plan_chains(version_index(store)):
        prev = None
        for meta in chain:
            try:
                label = load_version(store, meta)
            except CorruptVersion:
                continue
            if prev is not None:
                old, new = list(prev.sections), list(label.sections)
                if prev.source_format != label.source_format:
                    old, new = merge_by_field(old), merge_by_field(new)
                for aligned in align_sections(old, new):
                    result = diff_section(aligned)
                    sections += 1
                    changes += len(result.changes)
                    editorial += result.editorial
                pairs += 1
            prev = label
    return pairs, sections, changes, editorial


def print_sample(flagged: list, n: int, seed: int) -> None:
    """A reproducible random sample of flagged changes, with their word-level edits, to judge by reading."""
    import random

    from pgxlit.digest.text import word_diff

    random.seed(seed)
    for i, c in enumerate(random.sample(flagged, min(n, len(flagged))), start=1):
        print(f"\n=== S{i} rank {c.rank} {c.drug} v{c.old.version}->v{c.new.version} {c.section} {c.kind} {c.scope}")
        print("why:", "; ".join(c.pgx_reasons[:4]))
        if c.kind == "changed":
            runs = word_diff(c.old_text, c.new_text)
            print("diff:", "".join(t if op == "=" else f"[{op}{t.strip()}] " for op, t in runs)[:1400])
        else:
            print("text:", (c.new_text or c.old_text)[:1400])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--db", help="SQLAlchemy URL of an existing store instead of loading ../shared")
    ap.add_argument("--sample", type=int, default=0, help="Print this many PGx-flagged changes, drawn at random.")
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    if args.db:
        store = Store(args.db)
    else:
        from pgxlit.ingest.load import Loader

        root = args.shared / "corpora/fda"
        if not root.is_dir():
            print(f"no recorded FDA corpora at {root}", file=sys.stderr)
            return 2
        tmp = Path(tempfile.mkdtemp(prefix="pgxlit-bench-digest-"))
        settings = Settings(home=tmp, db_url=f"sqlite:///{tmp / 'fda.sqlite'}")
        store = Store(settings.resolved_db_url)
        start = time.perf_counter()
        Loader(store, settings).load([root])
        print(f"load {root}: {time.perf_counter() - start:.1f} s")
    stats = store.stats()
    print(f"store: {stats['labels']} labels, {stats['label_versions']} label versions, {stats['triples']} triples")
    base = rss_mb()

    start = time.perf_counter()
    pairs, sections, changes, editorial = diff_only(store)
    diff_s = time.perf_counter() - start
    print(f"align + sentence diff: {pairs} version pairs, {sections} section pairs, {changes} changes, "
          f"{editorial} editorial edits folded in {diff_s:.2f} s ({pairs / diff_s:.1f} pairs/s)")

    start = time.perf_counter()
    digest = build_digest(store, Selection())
    full_s = time.perf_counter() - start
    n_pgx = sum(c.pgx_relevant for c in digest.changes)
    print(f"full digest (diff + PGx judgement + stored triples + ranking): {len(digest.pairs)} pairs, "
          f"{len(digest.changes)} changes ({n_pgx} PGx) in {full_s:.2f} s ({len(digest.pairs) / full_s:.1f} pairs/s), "
          f"{len(digest.errors)} errors")
    for fmt in FORMATS:
        start = time.perf_counter()
        size = len(render(digest, fmt).encode())
        print(f"render {fmt}: {time.perf_counter() - start:.2f} s, {size / 1e6:.2f} MB")
    print(f"peak RSS {rss_mb():.0f} MB (before the digest: {base:.0f} MB)")
    if args.sample:
        print_sample([c for c in digest.changes if c.pgx_relevant], args.sample, args.seed)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
