"""The check with its inputs loaded once: table, lexicons, store and compiled knowledge.

The CLI builds one per command, the CDS Hooks service one per process; both call `run`.
Knowledge is refreshed when the store's triples change, checked at most every
`check_refresh_seconds` so a busy service does not query the store on every order.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from pgxlit.check.engine import CheckResult, DrugRef, check
from pgxlit.check.knowledge import Knowledge, load_knowledge, store_fingerprint
from pgxlit.check.genotype import GenotypeTable as PhenotypeTable
from pgxlit.check.genotype import load_table
from pgxlit.check.profile import Profile


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
    """Loads once, answers many checks."""

    def __init__(self, settings: Any, store: Any | None = None, table: PhenotypeTable | None = None) -> None:
        from pgxlit.cli_common import open_store

        self.settings = settings
        self.table = table or load_table()
        self.store = store or open_store(settings)
        self._lock = threading.Lock()
        self._knowledge: Knowledge | None = None
        self._checked_at = 0.0

    @property
    def knowledge(self) -> Knowledge:
        refresh = self.settings.check.refresh_seconds
        now = time.monotonic()
        with self._lock:
            if self._knowledge is None:
                self._knowledge = load_knowledge(self.store, self.settings, self.table)
                self._checked_at = now
            elif now - self._checked_at >= refresh:
                self._checked_at = now
                if store_fingerprint(self.store) != self._knowledge.fingerprint:
                    self._knowledge = load_knowledge(self.store, self.settings, self.table)
            return self._knowledge

    def rebuild(self) -> Knowledge:
        with self._lock:
            self._knowledge = load_knowledge(self.store, self.settings, self.table, rebuild=True)
            self._checked_at = time.monotonic()
            return self._knowledge

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
