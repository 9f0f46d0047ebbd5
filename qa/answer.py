"""Answer a question from retrieved evidence only: cite every sentence, or refuse.

The default answerer is extractive and deterministic: it quotes the best-supported evidence
sentences, most actionable first, each followed by its numbered citations. Any answerer's
text goes through `check_citations`, so no sentence stands without a citation and no
citation points outside what was retrieved.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pgxlit.index.search import Searcher, SearchFilters
from pgxlit.qa.evidence import Candidate, action_of, candidates, same_claim_key, tidy
from pgxlit.qa.question import Question, read_question

from pgxlit.config import Settings
from pgxlit.records import Answer, Citation, Hit, Passage, Triple
from pgxlit.store import Store

MAX_SENTENCE_CHARS = 420
ACTIONABLE_SECTIONS = ("boxed_warning", "contraindications", "dosage_and_administration", "warnings_and_cautions",
                       "warnings", "precautions")
CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"“])")
CLAIM = re.compile(r"(?P<body>(?:[^\[]|\[(?!\d+(?:\s*,\s*\d+)*\]))*?)(?P<cites>(?:\s*\[\d+(?:\s*,\s*\d+)*\])+)\.?")


def refusal(question: str, reason: str, timings: dict[str, float] | None = None) -> Answer:
    return Answer(question=question, answer=f"I found no evidence: {reason}", refused=True, reason=reason,
                  timings_ms=timings or {})


def refusal_reason(q: Question) -> str | None:
    """Why a question cannot be answered before searching, or None."""
    if q.unknown_drug and not q.drugs:
        return f"pgxlit does not know a drug called {q.unknown_drug!r}; check the spelling or use the generic name."
    if not q.drugs and not q.genes:
        return "I could not recognise a drug or gene in the question; name the drug (e.g. abacavir) or the gene (e.g. CYP2C19)."
    return None


def no_support_reason(q: Question) -> str:
    about = " and ".join(x for x in (", ".join(q.drugs), ", ".join(q.genes)) if x)
    return f"no indexed FDA label section or PubMed abstract links {about}." if q.drugs and q.genes else (
        f"no indexed FDA label section or PubMed abstract supports an answer about {about}."
    )


def _trim(sentence: str) -> str:
    sentence = tidy(sentence)
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return sentence
    cut = sentence[:MAX_SENTENCE_CHARS].rsplit(" ", 1)[0]
    return cut + " …"


@dataclass
class Composition:
    """Answer lines and the citations they use, numbered in order of first use."""

    lines: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    triples: list[Triple] = field(default_factory=list)
    _key_of: dict[tuple[int | None, int], int] = field(default_factory=dict)

    def cite(self, passage: Passage, text: str) -> int:
        slot = (passage.id, hash(text))
        if slot not in self._key_of:
            self._key_of[slot] = len(self.citations) + 1
            self.citations.append(Citation(self._key_of[slot], passage, text))
        return self._key_of[slot]


def compose_extractive(chosen: Sequence[Sequence[Candidate]]) -> Composition:
    """One line per claim: the quoted sentence, its action, and all places that state it."""
    comp = Composition()
    for group in chosen:
        first = group[0]
        keys = sorted({comp.cite(c.passage, c.sentence) for c in group})
        label = f"{first.action.capitalize()}: " if first.action else ""
        comp.lines.append(f"{label}{_trim(first.sentence)} [{', '.join(map(str, keys))}]")
        for c in group:
            comp.triples += [t for t in c.triples if t not in comp.triples]
    return comp


def choose(cands: Sequence[Candidate], max_sentences: int, max_places: int = 3) -> list[list[Candidate]]:
    """The best distinct claims, most actionable first; a repeated claim gathers its places."""
    groups: dict[str, list[Candidate]] = {}
    for c in cands:
        key = same_claim_key(c.sentence)
        if key in groups:
            if len(groups[key]) < max_places and all(g.passage.id != c.passage.id for g in groups[key]):
                groups[key].append(c)
        elif len(groups) < max_sentences:
            groups[key] = [c]
    chosen = list(groups.values())
    chosen.sort(key=lambda g: (-action_of(g[0].sentence)[1], -g[0].score))
    return chosen


def check_citations(text: str, allowed: set[int], strict: bool = False) -> tuple[str, list[str]]:
    """Keep claims that carry at least one allowed citation; drop unknown keys. Returns (text, problems).

    A claim is the text up to a citation group. With `strict` (generated text), only the last
    sentence before a citation counts as cited, and the sentences before it are dropped.
    """
    problems: list[str] = []
    kept: list[str] = []
    for line in (x.strip() for x in text.splitlines()):
        if not line:
            continue
        position = 0
        for match in CLAIM.finditer(line):
            position = match.end()
            body, groups = match.group("body").strip(), CITATION.findall(match.group("cites"))
            keys = [int(k) for g in groups for k in g.split(",")]
            bad = [k for k in keys if k not in allowed]
            good = [k for k in dict.fromkeys(keys) if k in allowed]
            if bad:
                problems.append(f"removed citation(s) to sources that were not retrieved: {bad}")
            if strict:
                parts = [x for x in SENTENCE_END.split(body) if x.strip()]
                if len(parts) > 1:
                    problems.append(f"dropped {len(parts) - 1} uncited sentence(s) before a citation")
                    body = parts[-1].strip()
            if not good:
                if body:
                    problems.append(f"dropped a claim without a valid citation: {body[:80]!r}")
                continue
            kept.append(f"{body.lstrip('-* ').strip()} [{', '.join(map(str, good))}]")
        rest = line[position:].strip(" .")
        if rest and any(ch.isalnum() for ch in rest):
            problems.append(f"dropped uncited text: {rest[:80]!r}")
    return "\n".join(kept), problems


class Answerer:
    """Question in, cited answer out; the index and models are loaded once per instance."""

    def __init__(self, store: Store, settings: Settings, searcher: Searcher | None = None) -> None:
        self.store = store
        self.settings = settings
        self.searcher = searcher or Searcher(store, settings)

    def retrieve(self, q: Question, k: int, filters: SearchFilters | None, timings: dict[str, float]) -> list[Hit]:
        """The question's best passages, plus focused searches a literal question may not reach: the
        drug's actionable label sections, and its passages about each gene its PGx triples name
        (when the question names no gene, the extracted triples say which genes matter)."""
        filters = filters or SearchFilters()
        hits = self.searcher.search(q.text, k, filters, boost_drugs=q.drugs, boost_genes=q.genes, timings=timings)
        if not q.drugs or filters.source not in (None, "fda_label"):
            return hits
        seen = {h.passage.id for h in hits}
        for drug in q.drugs:
            genes = q.genes or self.triple_genes(drug)
            for gene in genes or (None,):
                for sections, n in ((ACTIONABLE_SECTIONS, 4), ((), 2)):
                    focused = replace(filters, source="fda_label", drug=drug, gene=gene, sections=sections)
                    for hit in self.searcher.search(q.text, n, focused, boost_drugs=q.drugs, boost_genes=(gene,) if gene else ()):
                        if hit.passage.id not in seen:
                            hits.append(hit)
                            seen.add(hit.passage.id)
        return hits

    def triple_genes(self, drug: str, most: int = 3) -> tuple[str, ...]:
        """Genes of the drug's PGx triples in its labels, most often stated first."""
        counts: dict[str, int] = {}
        for t in self.store.triples(drug=drug, source="fda_label", pgx=True, latest_only=True, limit=2000,
                                    exclude_rejected=True):
            if t.gene:
                counts[t.gene] = counts.get(t.gene, 0) + 1
        return tuple(sorted(counts, key=lambda g: -counts[g])[:most])

    def supporting_triples(self, q: Question) -> list[Triple]:
        out: list[Triple] = []
        for drug in q.drugs or (None,):
            for gene in q.genes or (None,):
                if drug is None and gene is None:
                    continue
                out += self.store.triples(drug=drug, gene=gene, pgx=True, latest_only=True, limit=500,
                                          exclude_rejected=True)
        return out

    def evidence(self, question: str, k: int | None = None, filters: SearchFilters | None = None
                 ) -> tuple[Question, list[Hit], list[Candidate], dict[str, float]] | Answer:
        """Read, retrieve and select evidence; a refusal when there is nothing to stand on."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        q = read_question(question)
        timings["read_question"] = (time.perf_counter() - t0) * 1000
        reason = refusal_reason(q)
        if reason:
            return refusal(question, reason, timings)
        hits = self.retrieve(q, k or self.settings.qa_top_k, filters, timings)
        t1 = time.perf_counter()
        cands = candidates(q, hits, self.supporting_triples(q))
        timings["select_evidence"] = (time.perf_counter() - t1) * 1000
        if not cands:
            return refusal(question, no_support_reason(q), timings)
        return q, hits, cands, timings

    def ask(self, question: str, k: int | None = None, filters: SearchFilters | None = None) -> Answer:
        started = time.perf_counter()
        found = self.evidence(question, k, filters)
        if isinstance(found, Answer):
            found.timings_ms["total"] = (time.perf_counter() - started) * 1000
            return found
        _q, _hits, cands, timings = found
        return extractive_answer(question, cands, self.settings.qa_max_sentences, timings, started)


def extractive_answer(question: str, cands: Sequence[Candidate], max_sentences: int,
                      timings: dict[str, float], started: float, notes: tuple[str, ...] = ()) -> Answer:
    comp = compose_extractive(choose(cands, max_sentences))
    text, problems = check_citations("\n".join(comp.lines), {c.key for c in comp.citations})
    if problems:  # our own composition always cites; a problem here is a bug worth surfacing
        raise AssertionError("; ".join(problems))
    timings["total"] = (time.perf_counter() - started) * 1000
    return Answer(question=question, answer=text, refused=False, citations=tuple(comp.citations),
                  triples=tuple(comp.triples), answerer="extractive", timings_ms=timings, notes=notes)
