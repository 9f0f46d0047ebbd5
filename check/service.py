"""The check with its inputs loaded once: table, lexicons, store and compiled knowledge.

The CLI builds one per command, the CDS Hooks service one per process; both call `run`.
Knowledge is refreshed when the store's triples change, checked at most every
`check_refresh_seconds` so a busy service does not query the store on every order. The check
never waits for a refresh: it answers from the knowledge it has while one background thread
builds the next (after a review, only the reviewed drugs), swaps it in when ready and then
writes the claims cache.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from pgxlit.check.engine import CheckResult, DrugRef, check
from pgxlit.check.knowledge import Knowledge, load_knowledge, refresh_knowledge, save_knowledge, store_fingerprint
from pgxlit.check.genotype import GenotypeTable
from pgxlit.check.genotype import load_table
from pgxlit.check.profile import Profile

log = logging.getLogger(__name__)


def resolve_drug(name: str) -> DrugRef | None:
    """A drug name in any form the lexicon knows (brand, salt, generic); None when unknown."""
    from pgxlit.extract.lexicons import normalise_drug

    text = " ".join(name.split())
    found = normalise_drug(text)
    if found is None:
        # "clopidogrel 75 mg oral tablet": try the words before the strength
        head = re.split(r"\s\d", text, maxsplit=1)[0]
        found = normalise_drug(head) if head != text else None
        words = head.split()
        while found is None and len(words) > 1:
            words.pop()
            found = normalise_drug(" ".join(words))
    return DrugRef(name=found[1], pharmgkb_id=found[0], given=name) if found else None


_RXNORM: dict[str, tuple[str, str]] = {}


def drug_by_rxnorm(code: str) -> DrugRef | None:
    """An RxNorm ingredient code (from a FHIR MedicationRequest) to a drug."""
    if not _RXNORM:
        from pgxlit.extract.lexicons import load_lexicons

        for _term, name, pid, rxnorm, kind in load_lexicons().drug_rows:
            for rx in re.split(r"[,;| ]+", rxnorm or ""):
                if rx and rx not in _RXNORM and kind in ("name", "generic"):
                    _RXNORM[rx] = (pid, name)
    found = _RXNORM.get(code.strip())
    return DrugRef(name=found[1], pharmgkb_id=found[0], given=code) if found else None


def rxnorm_of(drug_name: str) -> str | None:
    drug_by_rxnorm("0")  # fills the index
    return next((rx for rx, (_pid, name) in _RXNORM.items() if name == drug_name), None)


class UnknownDrug(ValueError):
    """The ordered drug is not in pgxlit's drug lexicon."""


class CheckService:
    """Loads once, answers many checks; refreshes its knowledge in the background."""

    def __init__(self, settings: Any, store: Any | None = None, table: GenotypeTable | None = None) -> None:
        from pgxlit.cli_common import open_store

        self.settings = settings
        self.table = table or load_table()
        self.store = store or open_store(settings)
        self._lock = threading.Lock()  # guards the fields below; never held while knowledge is built
        self._first = threading.Lock()  # one first load (the only one a check waits for)
        self._knowledge: Knowledge | None = None
        self._checked_at = 0.0
        self._refresher: threading.Thread | None = None

    @property
    def knowledge(self) -> Knowledge:
        """The current knowledge, at once; when `check.refresh_seconds` have passed, a background
        refresh is started (one at a time) and swapped in when it is ready."""
        current = self._knowledge
        if current is None:
            with self._first:
                if self._knowledge is None:
                    loaded = load_knowledge(self.store, self.settings, self.table)
                    with self._lock:
                        self._knowledge, self._checked_at = loaded, time.monotonic()
                return self._knowledge
        now = time.monotonic()
        with self._lock:
            due = now - self._checked_at >= self.settings.check.refresh_seconds
            if due and (self._refresher is None or not self._refresher.is_alive()):
                self._checked_at = now
                self._refresher = threading.Thread(target=self._refresh, name="pgxlit-check-refresh", daemon=True)
                self._refresher.start()
        return current

    def _refresh(self) -> None:
        """Background: bring the knowledge up to date (only the reviewed drugs when only reviews
        happened), swap it in, then write the claims cache. A failure keeps serving the old one."""
        try:
            current = self._knowledge
            if current is None or store_fingerprint(self.store) == current.fingerprint:
                return
            fresh = refresh_knowledge(current, self.store, self.settings, self.table)
            if fresh is None:
                fresh = load_knowledge(self.store, self.settings, self.table, write=False)
            with self._lock:
                if self._knowledge is current:  # a synchronous rebuild() meanwhile wins
                    self._knowledge = fresh
            save_knowledge(fresh, self.settings)
        except Exception:  # the service keeps answering from what it has; the next refresh retries
            log.exception("refreshing the check's knowledge failed; still serving the previous knowledge "
                          "(retried after check.refresh_seconds; `pgxlit check --rebuild` compiles it anew)")

    def wait_for_refresh(self, timeout: float | None = None) -> bool:
        """Wait for a running background refresh (tests, shutdown); True when none is running."""
        thread = self._refresher
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def rebuild(self) -> Knowledge:
        """Compile every drug again, now (the CLI's --rebuild)."""
        with self._first:
            fresh = load_knowledge(self.store, self.settings, self.table, rebuild=True)
            with self._lock:
                self._knowledge, self._checked_at = fresh, time.monotonic()
            return fresh

    def resolve(self, name: str) -> DrugRef | None:
        """A drug with knowledge by its cached aliases (fast); any other through the full lexicon."""
        aliases = self.knowledge.aliases or {}
        text = " ".join(name.lower().split())
        candidates = [text, re.split(r"\s\d", text, maxsplit=1)[0]]
        words = candidates[-1].split()
        candidates += [" ".join(words[:n]) for n in range(len(words) - 1, 0, -1)]
        for c in candidates:
            if c in aliases:
                return DrugRef(name=aliases[c], given=name)
        return resolve_drug(name)

    def run(self, drug: str | DrugRef, profile: Profile) -> CheckResult:
        ref = drug if isinstance(drug, DrugRef) else self.resolve(drug)
        if ref is None:
            raise UnknownDrug(f"{drug!r} is not a drug pgxlit knows (try the generic name, e.g. clopidogrel)")
        return check(ref, profile, self.knowledge)
