"""One drug's PGx summary from the compiled claims: what `pgxlit drug` prints and /drug/{name} shows.

Why: a pharmacist asks "what does pgxlit know about warfarin?" before any single question. The
answer is the knowledge layer's claims laid out as a gene x phenotype grid (action, severity,
testing level, label or literature), each source shown once with a link to the label section
and to our own evidence view. A drug whose label is stored but states no PGx effect says what
was searched; it is never an empty (reassuring) page. A name nothing stored knows is refused
with the closest stored names ("did you mean ...?").

`build_summary` is pure; `drug_summary` is the store edge (claims, labels, abstract count, the
passages a citation can be opened in).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from pgxlit.knowledge.model import Citation, Claim, Place
from pgxlit.knowledge.summary import GeneLine, gene_lines, summary_order
from pgxlit.records import label_date

ACTION_WORD = {"avoid": "avoid", "alternative": "use an alternative", "dose_change": "change the dose",
               "test": "test before use", "monitor": "monitor", "informative": "informative"}
MAX_EVIDENCE_DOCS = 60  # documents searched for a citation's passage per summary (labels first)
DAILYMED_SET = "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid={set_id}"


class UnknownDrug(LookupError):
    """Nothing stored names this drug; `suggestions` are the closest stored names."""

    def __init__(self, name: str, suggestions: Sequence[str]) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean {' or '.join(self.suggestions)}?" if self.suggestions else \
            " (no stored label or abstract names it; `pgxlit labels` lists the stored labels)"
        super().__init__(f"pgxlit holds nothing about a drug called {name!r}{hint}")


@dataclass(frozen=True, slots=True)
class SearchedLabel:
    """The newest stored version of one label of the drug: what "searched" cites."""

    set_id: str
    version: int
    effective_time: str | None
    title: str | None

    @property
    def url(self) -> str:
        return DAILYMED_SET.format(set_id=self.set_id)

    def to_json(self) -> dict[str, Any]:
        return {"set_id": self.set_id, "version": self.version, "effective_time": self.effective_time,
                "title": self.title, "url": self.url}


@dataclass(frozen=True, slots=True)
class SourceLink:
    """One place a citation is stated, shown once: a label (newest version) section, or an abstract."""

    source: str  # fda_label | pubmed
    text: str  # "label 01b14603 v34 · Boxed Warning" or "PubMed 12345678 (2019)"
    url: str  # DailyMed (the section's sentence as a text fragment) or PubMed
    evidence_url: str | None = None  # our /evidence/{passage_id} view, when the passage is stored
    section: str | None = None  # the label section's title

    @property
    def where(self) -> str:
        """The text without its section: "Plavix v34"."""
        return self.text.split(" · ")[0]

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "text": self.text, "url": self.url, "evidence_url": self.evidence_url}


@dataclass(frozen=True, slots=True)
class Row:
    """One cell of the grid: a claim (gene, phenotype, action) with its citations and their links."""

    claim: Claim
    links: tuple[tuple[Citation, tuple[SourceLink, ...]], ...]

    @property
    def severity_word(self) -> str:
        """The traffic light's word (never colour alone)."""
        return "no change" if self.claim.no_change else self.claim.severity

    @property
    def action_word(self) -> str:
        return ACTION_WORD.get(self.claim.action, self.claim.action.replace("_", " "))

    def to_json(self) -> dict[str, Any]:
        out = self.claim.to_json(applies=None)
        for cj, (_c, links) in zip(out["citations"], self.links, strict=True):
            cj["links"] = [link.to_json() for link in links]
        return out


@dataclass(frozen=True, slots=True)
class Cell:
    """One gene x phenotype cell of the grid: its claims (one per action), strongest first."""

    gene: str
    phenotype: str
    rows: tuple[Row, ...]

    @property
    def lead(self) -> Row:
        return self.rows[0]

    @property
    def status(self) -> str:
        return self.lead.claim.status

    @property
    def also(self) -> tuple[str, ...]:
        """The other actions stated for the same patients ("monitor", "test before use")."""
        return tuple(dict.fromkeys(r.action_word for r in self.rows[1:] if r.action_word != self.lead.action_word))

    @property
    def literature_count(self) -> int:
        return len({p.pmid for r in self.rows for c in r.claim.citations for p in c.places if p.pmid})

    def links(self, source: str) -> list[SourceLink]:
        """Each label section (or abstract) once across the cell's claims, strongest citation's first."""
        seen: dict[str, SourceLink] = {}
        for r in self.rows:
            for _cit, links in r.links:
                for link in links:
                    if link.source == source:
                        seen.setdefault(link.text, link)
        return list(seen.values())

    def label_sections(self) -> list[tuple[str, list[SourceLink]]]:
        """Label links by section ("Boxed Warning": Plavix v34, v27, v3): each section named once."""
        out: dict[str, list[SourceLink]] = {}
        for link in self.links("fda_label"):
            out.setdefault(link.section or "label", []).append(link)
        return list(out.items())

    @property
    def citations(self) -> int:
        return sum(len(r.claim.citations) for r in self.rows)


@dataclass(frozen=True, slots=True)
class DrugSummary:
    """The grid and what was searched; `rows` strongest first, label-backed before literature-only."""

    drug: str
    asked: str
    labels: tuple[SearchedLabel, ...]
    abstracts: int
    rows: tuple[Row, ...]
    genes: tuple[GeneLine, ...] = ()
    names: tuple[str, ...] = field(default_factory=tuple)

    @property
    def label_rows(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.claim.status == "label")

    @property
    def literature_rows(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.claim.status != "label")

    def cells(self, label: bool = True) -> list[Cell]:
        """The grid: one cell per gene and phenotype group, label-backed (or literature-only) claims."""
        groups: dict[tuple[str, str], list[Row]] = {}
        for r in (self.label_rows if label else self.literature_rows):
            groups.setdefault((r.claim.gene, r.claim.group), []).append(r)
        return [Cell(gene, rows[0].claim.phenotype, tuple(rows)) for (gene, _g), rows in groups.items()]

    @property
    def outcome(self) -> str:
        """claims | no_pgx_effect_stated (nothing compiled from what was searched)."""
        return "claims" if self.rows else "no_pgx_effect_stated"

    def searched_text(self) -> str:
        """'the label for X (version V, effective D; ...) and N abstracts naming X': what was searched."""
        parts = [f"{lab.title or lab.set_id} version {lab.version}"
                 + (f", effective {label_date(lab.effective_time)}" if lab.effective_time else "") for lab in self.labels]
        abstracts = f"{self.abstracts} abstract{'s' if self.abstracts != 1 else ''} naming {self.drug}"
        if not parts:
            return abstracts
        word = "label" if len(parts) == 1 else "labels"
        return f"the {word} for {self.drug} ({'; '.join(parts)}) and {abstracts}"

    def message(self) -> str:
        if self.rows:
            label = len(self.label_rows)
            return (f"{len(self.rows)} claim{'s' if len(self.rows) != 1 else ''} for {self.drug} "
                    f"({label} stated in the label, {len(self.rows) - label} from literature only); "
                    f"searched {self.searched_text()}.")
        return f"No pharmacogenomic effect is stated for {self.drug}: searched {self.searched_text()}."

    def to_json(self) -> dict[str, Any]:
        return {
            "drug": self.drug, "asked": self.asked, "outcome": self.outcome, "message": self.message(),
            "searched": {"labels": [lab.to_json() for lab in self.labels], "abstracts": self.abstracts},
            "genes": [{"gene": g.gene, "status": g.status, "testing_level": g.testing_level, "severity": g.severity,
                       "claims": g.claims, "literature_count": g.pmids} for g in self.genes],
            "claims": [r.to_json() for r in self.rows],
        }


# ---- links (pure) -------------------------------------------------------------------------------
def doc_key(place: Place) -> str:
    """The stored document a place is in (the passages table's doc_key)."""
    return f"label:{place.set_id}:{place.version}" if place.source == "fda_label" else f"pubmed:{place.pmid}"


def squash(text: str) -> str:
    return " ".join(text.split())


def dailymed_url(place: Place, sentence: str) -> str:
    """The label on DailyMed, scrolled to the cited sentence where the browser supports text fragments."""
    base = DAILYMED_SET.format(set_id=place.set_id)
    words = sentence.split()[:6]
    if words:
        words[-1] = words[-1].rstrip(".,;:)")
    if len(words) < 3 or not all(words):
        return base
    return f"{base}#:~:text={quote(' '.join(words), safe='').replace('-', '%2D')}"


def source_links(citation: Citation, passage_of: Callable[[Place, str], int | None],
                 titles: dict[str, str] | None = None) -> tuple[SourceLink, ...]:
    """Each source once: a label set at its newest cited version (one section), each abstract once."""
    newest: dict[str, Place] = {}
    pubmed: dict[str, Place] = {}
    for p in citation.places:
        if p.source == "fda_label" and p.set_id:
            known = newest.get(p.set_id)
            if known is None or (p.version or 0) > (known.version or 0):
                newest[p.set_id] = p
        elif p.pmid:
            pubmed.setdefault(p.pmid, p)
    out: list[SourceLink] = []
    for p in newest.values():
        pid = passage_of(p, citation.sentence)
        name = (titles or {}).get(p.set_id) or f"label {p.set_id[:8]}"
        text = f"{name} v{p.version} · {p.section_title or p.section or 'label'}"
        out.append(SourceLink("fda_label", text, dailymed_url(p, citation.text), _evidence_url(pid, citation),
                              p.section_title or p.section or "label"))
    for p in pubmed.values():
        pid = passage_of(p, citation.sentence)
        text = f"PubMed {p.pmid}" + (f" ({p.year})" if p.year else "")
        out.append(SourceLink("pubmed", text, p.url, _evidence_url(pid, citation)))
    return tuple(out)


def _evidence_url(pid: int | None, citation: Citation) -> str | None:
    return f"/evidence/{pid}?{urlencode({'sentence': citation.sentence[:2000]})}" if pid is not None else None


# ---- the summary (pure) --------------------------------------------------------------------------
def build_summary(drug: str, asked: str, claims: Sequence[Claim], coverage: dict[str, Any],
                  labels: Sequence[SearchedLabel], abstracts: int,
                  passage_of: Callable[[Place, str], int | None] = lambda _p, _s: None,
                  names: Sequence[str] = (), titles: dict[str, str] | None = None) -> DrugSummary:
    """The grid: label-backed claims first (strongest first, as compiled), then literature-only ones."""
    rows = tuple(Row(c, tuple((cit, source_links(cit, passage_of, titles)) for cit in c.citations))
                 for c in summary_order(claims))
    return DrugSummary(drug, asked, tuple(labels), abstracts, rows, gene_lines(claims, coverage), tuple(names))


# ---- the store edge -------------------------------------------------------------------------------
_lock = threading.Lock()
_cache: dict[str, tuple[Any, Any]] = {}


def knowledge_base(store: Any, settings: Any) -> Any:
    """The compiled claims, kept per database while its triples and reviews stay the same."""
    from pgxlit.knowledge.summary import summary_knowledge

    stamp = store.triples_stamp()
    key = str(settings.resolved_db_url)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        kb = summary_knowledge(store, settings)
        _cache[key] = (stamp, kb)
        return kb


def catalogue(store: Any) -> Any:
    """Stored labels by drug, every name they give it, and did-you-mean (qa's catalogue)."""
    from pgxlit.qa.drugs import DrugCatalogue

    stamp = ("catalogue", store.labels_stamp())
    key = f"catalogue:{id(store)}"
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    found = DrugCatalogue.from_store(store)
    with _lock:
        _cache[key] = (stamp, found)
    return found


def resolve(name: str, kb: Any, cat: Any) -> str | None:
    """The stored drug a name means (generic or brand, any case, salt or not), or None."""
    from pgxlit.extract.lexicons import normalise_drug
    from pgxlit.qa.drugs import name_variants

    text = " ".join(name.split()).lower()
    if not text:
        return None
    known = set(kb.claims) | set(kb.coverage_of) | set(cat.labels)
    for variant in name_variants(text):
        if variant in known:
            return variant
        if variant in cat.names:
            return cat.names[variant]
    found = normalise_drug(text)
    if found and found[1].lower() in known:
        return found[1].lower()
    return None


def suggestions(name: str, kb: Any, cat: Any, most: int = 3) -> list[str]:
    """Stored names within a typo or two (or sharing the first letters) of `name`."""
    from pgxlit.qa.drugs import allowed_typos, edit_distance

    word = " ".join(name.split()).lower()
    pool: dict[str, str] = {d: d for d in (*kb.claims, *cat.labels)}
    pool.update(cat.names)
    budget = allowed_typos(word)
    scored = sorted((edit_distance(word, n, budget), n) for n in pool)
    out = [pool[n] for d, n in scored if d <= budget]
    if not out and len(word) >= 3:
        out = [pool[n] for n in sorted(pool) if n.startswith(word[:4])]
    return list(dict.fromkeys(out))[:most]


def abstracts_naming(store: Any, drug: str) -> set[str]:
    """PMIDs of stored abstracts whose indexed passages name the drug (what ask counts as searched)."""
    pmids: set[str] = set()
    for row in store.passage_rows():
        _pid, kind, source, *_rest = row
        if source == "pubmed" and kind == "passage" and row[8] and drug in (row[9] or "").split("|"):
            pmids.add(row[8])
    return pmids


class PassageFinder:
    """Finds the stored passage a cited sentence is in (one document read per set id/PMID, capped)."""

    def __init__(self, store: Any, max_docs: int = MAX_EVIDENCE_DOCS) -> None:
        self.store = store
        self.max_docs = max_docs
        self.docs: dict[str, list[Any]] = {}

    def __call__(self, place: Place, sentence: str) -> int | None:
        key = doc_key(place)
        if key not in self.docs:
            if len(self.docs) >= self.max_docs:
                return None
            self.docs[key] = [p for p in self.store.passages_of(key) if p.kind == "passage"]
        passages = self.docs[key]
        want = squash(sentence)
        same_section = [p for p in passages if place.source != "fda_label" or p.section == place.section]
        for p in same_section:
            if want and want in squash(p.text):
                return p.id
        return same_section[0].id if same_section else None


def drug_summary(store: Any, settings: Any, name: str) -> DrugSummary:
    """The summary of the drug `name` means; UnknownDrug when nothing stored names it."""
    kb = knowledge_base(store, settings)
    cat = catalogue(store)
    drug = resolve(name, kb, cat)
    if drug is None:
        raise UnknownDrug(name.strip(), suggestions(name, kb, cat))
    # abstracts searched: those the index finds the drug in, and those a triple of the drug was read from
    coverage = kb.coverage_of.get(drug, {})
    abstracts = len(abstracts_naming(store, drug).union(*(cov.pmids for cov in coverage.values())))
    labels = sorted((SearchedLabel(lab.set_id, lab.version, lab.effective_time, lab.title)
                     for lab in cat.labels.get(drug, ())), key=lambda lab: (lab.title or "", lab.set_id))
    finder = PassageFinder(store)
    claims = kb.claims_for(drug)
    # label documents first: they are few, and the links a prescriber opens
    for c in claims:
        for cit in c.citations:
            for p in cit.places:
                if p.source == "fda_label":
                    finder(p, cit.sentence)
    titles = {lab.set_id: short_title(lab.title) for labs in cat.labels.values() for lab in labs if lab.title}
    return build_summary(drug, name, claims, coverage, labels, abstracts, finder,
                         cat.names_of(drug), titles)


def short_title(title: str) -> str:
    """"Plavix (CLOPIDOGREL BISULFATE)" -> "Plavix": enough to tell labels apart in a source list."""
    head = title.split(" (")[0].strip()
    return head if 2 < len(head) <= 40 else title[:40]


def summaries_text(summary: DrugSummary, every: bool = False) -> list[str]:
    """Plain lines for the terminal: the label grid, then literature-only claims by gene."""
    lines = [summary.message()]
    if not summary.rows:
        lines += [f"  searched: {lab.url}" for lab in summary.labels]
        return lines
    lines.append("")
    header = f"{'gene':<9} {'patients':<34} {'action':<24} {'severity':<10} {'testing':<12} {'status':<15} sources"
    lines.append(header)
    for cell in summary.cells() + (summary.cells(label=False) if every else []):
        lines.append(_cell_line(cell))
    if not every and summary.literature_rows:
        lines += ["", "literature only (pgxlit drug --all lists each claim):"]
        by_gene: dict[str, list[Row]] = {}
        for r in summary.literature_rows:
            by_gene.setdefault(r.claim.gene, []).append(r)
        for gene, rows in sorted(by_gene.items(), key=lambda kv: (-_pmids(kv[1]), kv[0])):
            best = rows[0].claim
            lines.append(f"  {gene:<9} {len(rows)} claim{'s' if len(rows) != 1 else ''} from {_pmids(rows)} "
                         f"abstract{'s' if _pmids(rows) != 1 else ''}; strongest: {ACTION_WORD[best.action]} "
                         f"for {best.phenotype}")
    return lines


def _pmids(rows: Iterable[Row]) -> int:
    return len({p.pmid for r in rows for c in r.claim.citations for p in c.places if p.pmid})


def _cell_line(cell: Cell) -> str:
    r, c = cell.lead, cell.lead.claim
    links = [link for row in cell.rows for _cit, ls in row.links for link in ls if link.source == "fda_label"]
    sources = []
    if links:
        sets = {link.text.split(" · ")[0] for link in links}
        sections = sorted({link.text.split(" · ", 1)[1] for link in links})
        sources.append(f"{len(sets)} label{'s' if len(sets) != 1 else ''} ({', '.join(sections)})")
    if cell.literature_count:
        sources.append(f"{cell.literature_count} abstract{'s' if cell.literature_count != 1 else ''}")
    action = r.action_word + (f" ({c.dose})" if c.dose else "")
    also = f"  also: {', '.join(cell.also)}" if cell.also else ""
    return (f"{c.gene:<9} {c.phenotype[:34]:<34} {action[:24]:<24} {r.severity_word:<10} "
            f"{c.testing_level:<12} {c.status.replace('_', ' '):<15} {'; '.join(sources)}{also}")
