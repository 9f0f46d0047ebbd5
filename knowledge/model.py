"""The claim: what the stored evidence says a drug–gene–genotype group should do, with every source once.

A claim is compiled from stored triples (never from curated tables) and carries its citations
grouped by sentence: the same sentence stated in several label versions, generic labels or set
ids is one citation with several places. Every consumer (ask, check, digest, web) reads these
records, so an alert, an answer's bottom line and a drug page say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What a prescriber is told to do, most severe first.
ACTIONS = ("avoid", "alternative", "dose_change", "test", "monitor", "informative")
SEVERITIES = ("critical", "warning", "info")
# How strongly the label asks for a genetic test (PharmGKB's label levels, read from our own text).
TESTING_LEVELS = ("required", "recommended", "actionable", "informative")
# label: stated in an FDA label; literature_only: only abstracts state it; not_covered: nothing
# stored links the drug and the gene (a coverage answer, never a claim of its own).
STATUSES = ("label", "literature_only", "not_covered")


@dataclass(frozen=True, slots=True)
class Place:
    """One place a sentence is stated: a label version's section, or an abstract."""

    source: str  # fda_label | pubmed
    set_id: str | None = None
    version: int | None = None
    section: str | None = None
    section_title: str | None = None
    effective_time: str | None = None
    pmid: str | None = None
    year: int | None = None

    @property
    def url(self) -> str:
        if self.source == "fda_label":
            return f"https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid={self.set_id}"
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"

    def to_json(self) -> dict[str, Any]:
        out = {"source": self.source, "url": self.url}
        if self.source == "fda_label":
            out.update(set_id=self.set_id, version=self.version, section=self.section,
                       section_title=self.section_title, effective_time=self.effective_time)
        else:
            out.update(pmid=self.pmid, year=self.year)
        return out


@dataclass(frozen=True, slots=True)
class Citation:
    """One source sentence and every place that states it (shown once, however many places)."""

    text: str  # the sentence as displayed (cross-references and layout noise removed)
    sentence: str  # the sentence as stored
    source: str  # fda_label | pubmed (a sentence is from one kind of source)
    strength: str  # Strength label of its strongest place (pgxlit.sections)
    places: tuple[Place, ...]
    confidence: float = 0.0
    review_status: str = "pending"

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source, "strength": self.strength, "confidence": self.confidence,
                "review_status": self.review_status, "places": [p.to_json() for p in self.places]}


@dataclass(frozen=True, slots=True)
class Claim:
    """What the evidence says for one drug, gene, genotype/phenotype group and action.

    `group` is the machine key of who the claim is about, allele-exact: "phenotype:Poor Metabolizer",
    "function:No" with `copies` 1 or 2, "deficiency:partial" / "deficiency:complete",
    "hla:HLA-B*57:01", "diplotype:*2/*2" (with the phenotype it `implies`), "allele:*2",
    "variant:rs9923231" (its carriers), "genotype:rs9923231 AA" (that genotype, bases as the evidence
    writes them), or "gene" (the gene as a whole: "test before use", literature associations).
    """

    drug: str
    gene: str
    group: str
    phenotype: str  # `group` for a reader: "Ultrarapid Metabolizer", "partial deficiency", "HLA-B*57:01 positive"
    effect: str  # toxicity | efficacy | dosage | metabolism | other
    action: str  # one of ACTIONS
    severity: str  # one of SEVERITIES
    strength: str  # Strength label of the strongest citation: boxed_warning .. literature
    testing_level: str  # one of TESTING_LEVELS, read from the drug's label wording for the gene
    status: str  # label | literature_only
    recommendation: str  # the lead sentence, cleaned: the evidence's own words, never ours
    citations: tuple[Citation, ...]
    dose: str | None = None  # the dose or fraction the text states ("50%", "25 mg once daily")
    copies: int | None = None  # for "function:" and "allele:" groups: how many copies the text means
    implies: str | None = None  # for "diplotype:" groups: the phenotype of that diplotype
    no_change: bool = False  # the evidence says nothing changes for this group ("no dose adjustment")
    literature_count: int = 0  # distinct abstracts among the citations
    confidence: float = 0.0  # of the lead citation
    review_status: str = "pending"  # "accepted" when a curator accepted any of its sentences
    rank: int = 0  # reading strength: 5 avoid .. 0 association, -1 background/testing
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> tuple[Any, ...]:
        """One claim per key: drug–gene–group–action, the copies the group means, whether it says
        nothing changes, and whether it rests on abstracts below the literature threshold only."""
        return (self.drug, self.gene, self.group, self.action, self.copies, self.no_change, bool(self.extra.get("weak")))

    @property
    def label_backed(self) -> bool:
        return self.status == "label"

    def to_json(self, applies: bool | None = None) -> dict[str, Any]:
        """The published shape: {drug, gene, phenotype, action, severity, testing_level, status, applies,
        citations} plus what a reader needs to weigh it; a claim a curator corrected says so (`curated`,
        `edited_by`, `edit`: who, when, why, the compiled values it replaced)."""
        out = {
            "drug": self.drug, "gene": self.gene, "phenotype": self.phenotype, "group": self.group,
            "action": self.action, "severity": self.severity, "testing_level": self.testing_level,
            "status": self.status, "applies": applies, "effect": self.effect, "dose": self.dose,
            "strength": self.strength, "literature_count": self.literature_count, "no_change": self.no_change,
            "recommendation": self.recommendation, "confidence": self.confidence,
            "review_status": self.review_status, "citations": [c.to_json() for c in self.citations],
        }
        out.update(self.curation())
        return out

    def curation(self) -> dict[str, Any]:
        """Whether a curator edited the claim (knowledge.edits), who, and the edit: part of every published shape."""
        edit = self.extra.get("edit")
        return {"curated": edit is not None, "edited_by": edit.get("by") if edit else None, "edit": edit}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Claim:
        citations = tuple(
            Citation(text=c["text"], sentence=c.get("sentence", c["text"]), source=c["source"], strength=c["strength"],
                     places=tuple(Place(**{k: v for k, v in p.items() if k != "url"}) for p in c["places"]),
                     confidence=c.get("confidence", 0.0), review_status=c.get("review_status", "pending"))
            for c in d["citations"]
        )
        return cls(drug=d["drug"], gene=d["gene"], group=d["group"], phenotype=d["phenotype"], effect=d["effect"],
                   action=d["action"], severity=d["severity"], strength=d["strength"], testing_level=d["testing_level"],
                   status=d["status"], recommendation=d["recommendation"], citations=citations, dose=d.get("dose"),
                   copies=d.get("copies"), implies=d.get("implies"), no_change=d.get("no_change", False),
                   literature_count=d.get("literature_count", 0), confidence=d.get("confidence", 0.0),
                   review_status=d.get("review_status", "pending"), rank=d.get("rank", 0), extra=d.get("extra") or {})

    def to_cache(self) -> dict[str, Any]:
        """Everything, for the compiled cache (to_json plus the fields only the compiler needs)."""
        d = self.to_json()
        d.update(copies=self.copies, implies=self.implies, rank=self.rank, extra=self.extra)
        for c, cj in zip(self.citations, d["citations"], strict=True):
            cj["sentence"] = c.sentence
        return d
