"""Write the store's raw responses to a folder that `pgxlit load` reads back.

This is how the demo bundle in corpora/ is made: crawl (through the replay
server or the real APIs), then snapshot. Each response becomes one gzipped
file; manifest.tsv keeps its URL, fetch time and hash, so the bundle says
where every byte came from.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

from pgxlit.store import Store

SUFFIX = {"openfda": ".json", "pubmed": ".xml", "spl": ".spl", "dailymed_history": ".json"}


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file, then rename, so a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_snapshot(store: Store, out_dir: Path) -> dict[str, int | str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[str] = ["file\tsource\turl\tfetched_at\tsha256\tbytes"]
    written = 0
    total = 0
    for raw in store.raw_responses():
        name = f"{raw.source}/{raw.sha256[:16]}{SUFFIX.get(raw.source, '.bin')}.gz"
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            _atomic_write(target, gzip.compress(raw.body, mtime=0))
            written += 1
        total += target.stat().st_size
        rows.append(
            f"{name}\t{raw.source}\t{raw.url}\t{raw.fetched_at.isoformat()}\t{raw.sha256}\t{raw.size}"
        )
    _atomic_write(out_dir / "manifest.tsv", ("\n".join(rows) + "\n").encode())
    return {"out": str(out_dir), "responses": len(rows) - 1, "files_written": written, "bytes_compressed": total}
