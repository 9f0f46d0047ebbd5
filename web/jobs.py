"""One background refresh at a time: extract what is new or changed in the store, then update the index.

A curator triggers it after new labels or abstracts were crawled or loaded; the running server
then answers from the new index (the answerer reloads when the index manifest changes).
"""

from __future__ import annotations

import threading
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from pgxlit.config import Settings
from pgxlit.store import Store


class Refresh:
    """Holds the state of the last refresh; `start` refuses while one runs."""

    def __init__(self, store_of: Any, settings: Settings) -> None:
        self._store_of = store_of
        self.settings = settings
        self._lock = threading.Lock()
        self.state: dict[str, Any] = {"status": "idle"}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.state)

    def start(self, actor: str) -> dict[str, Any] | None:
        """The new job's state, or None when a refresh is already running."""
        with self._lock:
            if self.state.get("status") == "running":
                return None
            self.state = {"status": "running", "started_by": actor,
                          "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
            state = dict(self.state)
        threading.Thread(target=self._run, name="pgxlit-refresh", daemon=True).start()
        return state

    def _run(self) -> None:
        from pgxlit.extract.run import run_extraction
        from pgxlit.index.build import update_index

        started = time.perf_counter()
        try:
            store: Store = self._store_of()
            extraction = run_extraction(store)
            index = update_index(store, self.settings)
            result = {"status": "done", "extraction": extraction,
                      "index": {k: index[k] for k in ("documents_indexed", "passages_added", "vectors")}}
        except Exception as exc:  # noqa: BLE001 - the job reports any failure; the server keeps serving
            traceback.print_exc()
            result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        with self._lock:
            self.state.update(result, seconds=round(time.perf_counter() - started, 1),
                              finished_at=datetime.now(UTC).isoformat(timespec="seconds"))
