"""The check with its inputs loaded once: table, lexicons, store and compiled knowledge.

The CLI builds one per command, the CDS Hooks service one per process; both call `run`.
Knowledge is refreshed when the store's triples change, checked at most every
`check_refresh_seconds` so a busy service does not query the store on every order. The check
never waits for a refresh: it answers from the knowledge it has while one background thread
builds the next (after a review, only the reviewed drugs), swaps it in when ready and then
writes the claims cache (`knowledge.base.Refreshing`, shared with the web answerer's claims).
"""

from __future__ import annotations

import re
from typing import Any

from pgxlit.check.engine import CheckResult, DrugRef, check
from pgxlit.check.knowledge import Knowledge, load_knowledge, refresh_knowledge, save_knowledge, store_fingerprint
from pgxlit.check.genotype import GenotypeTable
from pgxlit.check.genotype import load_table
from pgxlit.check.profile import Profile
from pgxlit.knowledge.base import Refreshing


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
    """Loads once, answers many checks; its knowledge is kept current by `knowledge.base.Refreshing`
    (the same mechanism as the web answerer's claims): a background thread, after reviews only the
    reviewed drugs recompiled, swapped in when ready, the claims cache written after the swap."""

    def __init__(self, settings: Any, store: Any | None = None, table: GenotypeTable | None = None) -> None:
        from pgxlit.cli_common import open_store

        self.settings = settings
        self.table = table or load_table()
        self.store = store or open_store(settings)
        self._live: Refreshing[Knowledge] = Refreshing(
            lambda: load_knowledge(self.store, self.settings, self.table), self._refresh,
            lambda: float(self.settings.check.refresh_seconds), name="pgxlit-check-refresh",
            saved=lambda fresh: save_knowledge(fresh, self.settings))

    @property
    def knowledge(self) -> Knowledge:
        """The current knowledge, at once; when `check.refresh_seconds` have passed, a background
        refresh is started (one at a time) and swapped in when it is ready."""
        return self._live.get()

    def _refresh(self, current: Knowledge) -> Knowledge | None:
        """Background: the knowledge brought up to date (only the reviewed drugs when only reviews
        happened), or None when the store did not change."""
        if store_fingerprint(self.store) == current.fingerprint:
            return None
        fresh = refresh_knowledge(current, self.store, self.settings, self.table)
        return fresh if fresh is not None else load_knowledge(self.store, self.settings, self.table, write=False)

    def wait_for_refresh(self, timeout: float | None = None) -> bool:
        """Wait for a running background refresh (tests, shutdown); True when none is running."""
        return self._live.wait(timeout)

    def rebuild(self) -> Knowledge:
        """Compile every drug again, now (the CLI's --rebuild)."""
        return self._live.replace(lambda: load_knowledge(self.store, self.settings, self.table, rebuild=True))

    @property
    def ready(self) -> bool:
        """The knowledge is loaded: a check of a drug it knows is then a few dictionary lookups."""
        return self._live.loaded

    def known(self, name: str) -> DrugRef | None:
        """A drug with knowledge by its cached aliases only (fast, never loads the lexicon); None otherwise."""
        aliases = self.knowledge.aliases or {}
        text = " ".join(name.lower().split())
        candidates = [text, re.split(r"\s\d", text, maxsplit=1)[0]]
        words = candidates[-1].split()
        candidates += [" ".join(words[:n]) for n in range(len(words) - 1, 0, -1)]
        for c in candidates:
            if c in aliases:
                return DrugRef(name=aliases[c], given=name)
        return None

    def resolve(self, name: str) -> DrugRef | None:
        """A drug with knowledge by its cached aliases (fast); any other through the full lexicon."""
        return self.known(name) or resolve_drug(name)

    def run(self, drug: str | DrugRef, profile: Profile) -> CheckResult:
        ref = drug if isinstance(drug, DrugRef) else self.resolve(drug)
        if ref is None:
            raise UnknownDrug(f"{drug!r} is not a drug pgxlit knows (try the generic name, e.g. clopidogrel)")
        return check(ref, profile, self.knowledge)
