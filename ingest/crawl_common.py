"""What every crawler reports, and how it reports progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pgxlit.store import SaveCounts

# progress(advanced_by, total_if_known)
ProgressFn = Callable[[int, int | None], None]


@dataclass
class CrawlReport:
    key: str
    pages: int = 0
    records_seen: int = 0
    total: int | None = None
    resumed: bool = False
    counts: SaveCounts = field(default_factory=SaveCounts)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "pages": self.pages,
            "records_seen": self.records_seen,
            "total": self.total,
            "resumed": self.resumed,
            **self.counts.as_dict(),
            "notes": self.notes,
        }
