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
from typing import Any

from pgxlit.extract.actions import action_of
from pgxlit.index.search import SOURCES, Searcher, SearchFilters
from pgxlit.qa.bottom_line import ACTION_ORDER, VERDICT, ClaimView, bottom_line, rank
from pgxlit.qa.claims import CitationFinder, claim_views, select_claims, who
from pgxlit.qa.drugs import DrugCatalogue, StoredLabel
from pgxlit.qa.evidence import Candidate, candidates, quote_key, same_claim_key, tidy
from pgxlit.qa.question import Question, read_question
from pgxlit.qa.reads import ReadMemo, StoreVersion
from pgxlit.qa.select import (
    about_asked_drugs,
    allele_exact,
    claims_from_evidence,
    group_candidates,
    group_pattern,
    verdict_strength,
)

from pgxlit.config import Settings
from pgxlit.records import Answer, Citation, Hit, Passage, Triple
from pgxlit.sections import ACTIONABLE_SECTIONS
from pgxlit.store import Store

MAX_SENTENCE_CHARS = 420
CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"“])")
CLAIM = re.compile(r"(?P<body>(?:[^\[]|\[(?!\d+(?:\s*,\s*\d+)*\]))*?)(?P<cites>(?:\s*\[\d+(?:\s*,\s*\d+)*\])+)\.?")
# Named alleles in evidence text, to keep an answer allele-exact (HLA-B*58:01 is not HLA-B*57:01).
MORE_DRUGS = 8  # drugs searched one by one for "which drugs are affected by GENE?"


@dataclass(frozen=True, slots=True)
class QaAnswer(Answer):
    """An answer with what was asked and how: kind, bottom line, claims, named genes and drugs, and the
    text in the format the asker requested (`formatted`; the cited `answer` and citations stay in JSON)."""

    kind: str = "issue"
    outcome: str = "answered"  # answered | nothing_found | refused | did_you_mean
    bottom_line: str = ""
    claims: tuple[dict[str, Any], ...] = ()
    genes: tuple[str, ...] = ()
    drugs: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()
    formatted: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**Answer.to_json(self), "kind": self.kind, "outcome": self.outcome, "bottom_line": self.bottom_line,
                "claims": list(self.claims), "genes": list(self.genes), "drugs": list(self.drugs),
                "groups": list(self.groups), "suggestions": list(self.suggestions), "formatted": self.formatted}


def refusal(question: str, reason: str, timings: dict[str, float] | None = None, q: Question | None = None) -> Answer:
    outcome = "did_you_mean" if q is not None and q.suggestions and not q.drugs else "refused"
    return QaAnswer(question=question, answer=f"I found no evidence: {reason}", refused=True, reason=reason,
                    timings_ms=timings or {}, kind=q.kind if q else "issue", outcome=outcome,
                    suggestions=q.suggestions if q else (), groups=q.groups if q else ())


def refusal_reason(q: Question) -> str | None:
    """Why a question cannot be answered before searching, or None. A misspelt drug is never
    silently replaced: the closest known names are offered instead."""
    if q.unknown_drug and not q.drugs and q.drug_class is None:
        if q.suggestions:
            return (f"pgxlit does not know a drug called {q.unknown_drug!r}; did you mean "
                    f"{' or '.join(q.suggestions)}?")
        return f"pgxlit does not know a drug called {q.unknown_drug!r}; check the spelling or use the generic name."
    if q.drug_class and not q.drugs:
        return (f"no drug of the class {q.drug_class} ({q.class_term}) is in the store; "
                "ask about one drug by name, or crawl its label first.")
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


@dataclass(frozen=True, slots=True)
class QuoteCitation(Citation):
    """A numbered source whose sentence other places state word for word: other label versions,
    generics and set ids (`also_in`) are listed under the one number instead of numbered again."""

    also_in: tuple[Passage, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**Citation.to_json(self), "also_in": [place_json(p) for p in self.also_in]}


def place_json(p: Passage) -> dict[str, Any]:
    """Where else a quoted sentence is stated, for JSON and for listing under its number."""
    return {"source": p.source, "set_id": p.set_id, "version": p.version, "section": p.section,
            "section_title": p.section_title, "effective_time": p.effective_time, "pmid": p.pmid, "year": p.year,
            "title": p.title, "url": p.url, "passage_id": p.id}


def _place(p: Passage) -> tuple[Any, ...]:
    return (p.source, p.set_id, p.version, p.section, p.pmid)


@dataclass
class Composition:
    """Answer lines and the citations they use, numbered in order of first use.

    Every source once: a sentence is numbered once however many label versions, generics and set
    ids state it (compared by `quote_key`: case, spacing, punctuation and layout debris ignored);
    its other places are kept in the citation's `also_in`."""

    lines: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    triples: list[Triple] = field(default_factory=list)
    _key_of: dict[str, int] = field(default_factory=dict)

    def cite(self, passage: Passage, text: str) -> int:
        slot = quote_key(text) or f"{passage.id}:{hash(text)}"
        key = self._key_of.get(slot)
        if key is None:
            key = self._key_of[slot] = len(self.citations) + 1
            self.citations.append(QuoteCitation(key, passage, text))
            return key
        old = self.citations[key - 1]
        also = getattr(old, "also_in", ())
        if _place(passage) != _place(old.passage) and all(_place(passage) != _place(a) for a in also):
            self.citations[key - 1] = QuoteCitation(key, old.passage, old.text, (*also, passage))
        return key

    def key_of(self, text: str) -> int | None:
        """The number a sentence is cited under, or None when it is not cited."""
        return self._key_of.get(quote_key(text))


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


def choose(cands: Sequence[Candidate], max_sentences: int, max_places: int = 12,
           groups: Sequence[str] = ()) -> list[list[Candidate]]:
    """The best distinct claims, most actionable first; a repeated claim gathers its places. Evidence
    that names the asked genotype/phenotype group ("ultra-rapid metabolizers") comes before the rest."""
    patterns = [p for g in groups if (p := group_pattern(g)) is not None]
    if patterns:
        cands = sorted(cands, key=lambda c: (not any(p.search(c.sentence) for p in patterns), -verdict_strength(c),
                                             -c.score))
    claims: dict[str, list[Candidate]] = {}
    for c in cands:
        key = same_claim_key(c.sentence)
        if key in claims:
            if len(claims[key]) < max_places and all(g.passage.id != c.passage.id for g in claims[key]):
                claims[key].append(c)
        elif len(claims) < max_sentences:
            claims[key] = [c]
    chosen = list(claims.values())
    chosen.sort(key=lambda g: (not any(p.search(g[0].sentence) for p in patterns),
                               -(verdict_strength(g[0]) if patterns else action_of(g[0].sentence)[1]), -g[0].score))
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
    """Question in, cited answer out; the index, models and drug catalogue are loaded once per instance."""

    def __init__(self, store: Store, settings: Settings, searcher: Searcher | None = None) -> None:
        self.store = store
        self.settings = settings
        self.searcher = searcher or Searcher(store, settings)
        self._catalogue: DrugCatalogue | None = None
        self._knowledge: Any = None
        self._finder = CitationFinder(store)
        # drug and gene triple reads repeat from ask to ask; kept until the store changes
        self._reads = ReadMemo(StoreVersion(store))
        # and so do the passages searches return (a few hundred of them, question after question)
        self._passages = ReadMemo(self._reads.version, size=8192)
        self.searcher.read_passages = lambda ids: self._passages.many("passage", ids, self.store.passages)

    @property
    def catalogue(self) -> DrugCatalogue:
        """Drugs known from the stored labels (and named by indexed passages), read once."""
        if self._catalogue is None:
            meta = self.searcher.meta
            pubmed = SOURCES.index("pubmed")
            in_abstracts = [d for d, rows in meta.by_drug.items() if bool((meta.source[rows] == pubmed).any())]
            self._catalogue = DrugCatalogue.from_store(self.store, in_abstracts)
        return self._catalogue

    def knowledge(self) -> Any:
        """The knowledge layer's compiled claims (compiled once, cached on disk by the layer), or None
        when this pgxlit has no knowledge layer: the answer then reads claims off its own evidence."""
        if self._knowledge is None:
            try:
                from pgxlit.knowledge.base import LiveKnowledge
            except ImportError:
                self._knowledge = False
            else:
                self._knowledge = LiveKnowledge(self.store, self.settings)
        # a long-lived answerer (the web app's) sees reviews and claim edits within check.refresh_seconds
        return self._knowledge.current() if self._knowledge else None

    def question_claims(self, q: Question, most: int = 12) -> list[ClaimView]:
        """The compiled claims that answer the question, applying ones and label ones first, with their
        sources found again among the indexed passages."""
        kb = self.knowledge()
        if kb is None:
            return []
        selected = select_claims(q, kb, self.catalogue.has_label)
        order = {a: i for i, a in enumerate(ACTION_ORDER)}
        selected.sort(key=lambda pair: (pair[1] is False, pair[0].status != "label", order.get(pair[0].action, 9)))
        return [c for c in claim_views(selected[:most], self._finder) if c.evidence]

    def read(self, question: str) -> Question:
        return read_question(question, self.catalogue)

    def retrieve(self, q: Question, k: int, filters: SearchFilters | None, timings: dict[str, float]) -> list[Hit]:
        """The question's best passages, plus focused searches a literal question may not reach: the
        drug's actionable label sections, and its passages about each gene its PGx triples name
        (when the question names no gene, the extracted triples say which genes matter; when it names
        no drug, the drugs whose label PGx triples name the gene)."""
        filters = filters or SearchFilters()
        hits = self.searcher.search(q.query, k, filters, boost_drugs=q.drugs, boost_genes=q.genes, timings=timings)
        if filters.source not in (None, "fda_label"):
            return hits
        drugs = q.drugs or tuple(d for g in q.genes for d in self.triple_drugs(g))[:MORE_DRUGS]
        if not drugs:
            return hits
        seen = {h.passage.id for h in hits}
        for drug in drugs:
            genes = q.genes or self.triple_genes(drug)
            for gene in genes or (None,):
                for sections, n in ((ACTIONABLE_SECTIONS, 4), ((), 2)):
                    focused = replace(filters, source="fda_label", drug=drug, gene=gene, sections=sections)
                    for hit in self.searcher.search(q.query, n, focused, boost_drugs=(drug,),
                                                    boost_genes=(gene,) if gene else ()):
                        if hit.passage.id not in seen:
                            hits.append(hit)
                            seen.add(hit.passage.id)
        return hits

    def triple_genes(self, drug: str, most: int = 3) -> tuple[str, ...]:
        """Genes of the drug's PGx triples in its labels, most often stated first."""
        return self._reads.get(("genes", drug), lambda: self._triple_genes(drug))[:most]

    def _triple_genes(self, drug: str) -> tuple[str, ...]:
        counts: dict[str, int] = {}
        for t in self.store.triples(drug=drug, source="fda_label", pgx=True, latest_only=True, limit=2000,
                                    exclude_rejected=True):
            if t.gene:
                counts[t.gene] = counts.get(t.gene, 0) + 1
        return tuple(sorted(counts, key=lambda g: -counts[g]))

    def triple_drugs(self, gene: str) -> tuple[str, ...]:
        """Drugs whose own label's PGx triples name the gene, most often stated first."""
        return self._reads.get(("drugs", gene), lambda: self._triple_drugs(gene))

    def _triple_drugs(self, gene: str) -> tuple[str, ...]:
        counts: dict[str, int] = {}
        for t in self.store.triples(gene=gene, source="fda_label", pgx=True, latest_only=True, limit=5000,
                                    exclude_rejected=True):
            if t.drug and self.catalogue.has_label(t.drug):
                counts[t.drug] = counts.get(t.drug, 0) + 1
        return tuple(sorted(counts, key=lambda d: (-counts[d], d)))

    def supporting_triples(self, q: Question) -> list[Triple]:
        out: list[Triple] = []
        for drug in q.drugs or (None,):
            for gene in q.genes or (None,):
                if drug is None and gene is None:
                    continue
                out += self._reads.get(("triples", drug, gene), lambda d=drug, g=gene: tuple(self.store.triples(
                    drug=d, gene=g, pgx=True, latest_only=True, limit=500, exclude_rejected=True)))
        return out

    def evidence(self, question: str, k: int | None = None, filters: SearchFilters | None = None
                 ) -> tuple[Question, list[Hit], list[Candidate], dict[str, float]] | Answer:
        """Read, retrieve and select evidence; a refusal when there is nothing to stand on, and for a drug
        whose label is stored but states nothing pharmacogenomic, what was searched (cited)."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        q = self.read(question)
        timings["read_question"] = (time.perf_counter() - t0) * 1000
        reason = refusal_reason(q)
        if reason:
            return refusal(question, reason, timings, q)
        hits = self.retrieve(q, k or self.settings.qa.top_k, filters, timings)
        t1 = time.perf_counter()
        found = candidates(q, hits, self.supporting_triples(q))
        cands = allele_exact(q, about_asked_drugs(q, [*found, *group_candidates(q, hits, found, self.catalogue,
                                                                                   self.triple_genes)],
                                                  self.catalogue))
        timings["select_evidence"] = (time.perf_counter() - t1) * 1000
        if not cands:
            claims = self.question_claims(q)
            if any(c.applies is not False for c in claims):  # retrieval missed what the claims state
                return extractive_answer(question, (), self.settings.qa.max_sentences, timings, time.perf_counter(),
                                         q=q, catalogue=self.catalogue, claims=claims)
            return self.nothing_found(question, q, timings)
        return q, hits, cands, timings

    def nothing_found(self, question: str, q: Question, timings: dict[str, float]) -> Answer:
        """No PGx evidence: for stored labels, say what was searched and cite the label; else refuse."""
        searched = [(drug, label) for drug in q.drugs for label in self.catalogue.labels.get(drug, ())]
        if q.genes or q.groups or not searched:
            where = "; ".join(self.searched_text(d, [lab for dd, lab in searched if dd == d]) for d in q.drugs
                              if any(dd == d for dd, _ in searched))
            reason = no_support_reason(q) + (f" Searched {where}." if where else "")
            return refusal(question, reason, timings, q)
        comp = Composition()
        lines = []
        for drug in dict.fromkeys(d for d, _ in searched):
            labels = [lab for d, lab in searched if d == drug]
            keys = [k for lab in labels if (k := self.cite_label(comp, lab)) is not None]
            if not keys:
                continue
            lines.append(f"No pharmacogenomic effect found for {drug}: {self.searched_text(drug, labels)} "
                         f"state no pharmacogenomic effect [{', '.join(map(str, keys))}]")
        if not lines:
            return refusal(question, no_support_reason(q), timings, q)
        text = "\n".join(lines)
        return QaAnswer(question=question, answer=text, refused=False, citations=tuple(comp.citations),
                        timings_ms=timings, kind=q.kind, outcome="nothing_found", bottom_line=text,
                        drugs=q.drugs, groups=q.groups, formatted=format_text(q, (), q.drugs, "nothing_found"))

    def searched_text(self, drug: str, labels: Sequence[StoredLabel]) -> str:
        """'the label for X (TITLE), version V, and N abstracts': what a search covered, in words."""
        parts = [f"version {lab.version}" + (f", effective {lab.effective_time}" if lab.effective_time else "")
                 for lab in labels]
        count = self.abstract_count(drug)
        label_text = f"the label for {drug} ({'; '.join(parts)})" if labels else ""
        abstracts = f"{count} abstract{'s' if count != 1 else ''} naming {drug}"
        return f"{label_text} and {abstracts}" if label_text else abstracts

    def abstract_count(self, drug: str) -> int:
        """PubMed abstracts among the indexed passages that name the drug."""
        meta = self.searcher.meta
        rows = meta.by_drug.get(drug)
        if rows is None or not len(rows):
            return 0
        pubmed = rows[(meta.source[rows] == SOURCES.index("pubmed")) & ~meta.is_triple[rows]]
        passages = self.store.passages(int(pid) for pid in meta.ids[pubmed])
        return len({p.pmid for p in passages.values() if p.pmid})

    def cite_label(self, comp: Composition, label: StoredLabel) -> int | None:
        """Cite a stored label by its opening passage (indications first): the source that was searched."""
        passages = self.store.passages_of(f"label:{label.set_id}:{label.version}")
        if not passages:
            return None
        first = next((p for p in passages if p.section == "indications_and_usage"), passages[0])
        sentence = first.sentences()[0][1] if first.sentence_starts else first.text
        return comp.cite(first, sentence)

    def ask(self, question: str, k: int | None = None, filters: SearchFilters | None = None) -> Answer:
        started = time.perf_counter()
        found = self.evidence(question, k, filters)
        if isinstance(found, Answer):
            found.timings_ms["total"] = (time.perf_counter() - started) * 1000
            return self.other_groups(question, found)
        q, _hits, cands, timings = found
        t0 = time.perf_counter()
        claims = self.question_claims(q)
        timings["claims"] = (time.perf_counter() - t0) * 1000
        return self.other_groups(question, extractive_answer(
            question, cands, self.settings.qa.max_sentences, timings, started, q=q, catalogue=self.catalogue,
            claims=claims or None))

    def other_groups(self, question: str, answer: Answer, most: int = 4) -> Answer:
        """For "which drugs ... in GROUP carriers?" with nothing stored for that group: say so, and what the
        stored labels do state for the gene's other groups (cited), instead of refusing or answering
        with another allele's drugs. Any other answer is returned as it is."""
        if not (answer.refused and getattr(answer, "kind", "") == "affected_drugs" and getattr(answer, "groups", ())):
            return answer
        q = self.read(question)
        kb = self.knowledge()
        genes = q.genes or tuple(g.split("*")[0] for g in q.alleles if "*" in g)
        if kb is None or not genes:
            return answer
        by_group: dict[tuple[str, str], list[Any]] = {}
        for gene in genes:
            for c in kb.claims_for_gene(gene):
                if c.status == "label" and c.group != "gene" and self.catalogue.has_label(c.drug):
                    by_group.setdefault((c.gene, c.group), []).append(c)
        if not by_group:
            return answer
        comp = Composition()
        lines: list[str] = []
        ranked = sorted(by_group.values(), key=lambda cs: (-len({c.drug for c in cs}), cs[0].group))
        for claims in ranked[:most]:
            # one quote per group and drug (its strongest claim's first sentence found again)
            leads = list({c.drug: c for c in reversed(claims)}.values())
            views = claim_views([(c, False) for c in leads], self._finder)
            keys = sorted({comp.cite(*v.evidence[0]) for v in views if v.evidence})
            if not keys:
                continue
            drugs = ", ".join(sorted({c.drug for c in claims}))
            lines.append(f"{who(claims[0]) or claims[0].phenotype}: {drugs} [{', '.join(map(str, keys))}]")
        if not lines:
            return answer
        asked = ", ".join(g + "s" if g.endswith(" carrier") else g for g in q.groups)
        head = (f"No stored FDA label section or PubMed abstract states an effect for {asked}; "
                f"the stored {', '.join(genes)} evidence is about other groups: ")
        text = head + lines[0] + "".join(f"\n{line}" for line in lines[1:])
        checked, problems = check_citations(text, {c.key for c in comp.citations})
        if problems:  # generated from cited claims: an uncited line is a bug worth surfacing
            raise AssertionError("; ".join(problems))
        quotes = "\n".join(f"{_trim(c.text)} [{c.key}]" for c in comp.citations)
        return QaAnswer(question=question, answer=quotes, refused=False, citations=tuple(comp.citations),
                        timings_ms=answer.timings_ms, kind=q.kind, outcome="nothing_found", bottom_line=checked,
                        genes=genes, groups=q.groups, reason=answer.reason,
                        formatted=format_text(q, (), (), "nothing_found"))


def extractive_answer(question: str, cands: Sequence[Candidate], max_sentences: int,
                      timings: dict[str, float], started: float, notes: tuple[str, ...] = (),
                      q: Question | None = None, catalogue: DrugCatalogue | None = None,
                      claims: Sequence[ClaimView] | None = None) -> Answer:
    """Quotes of the chosen evidence, opened by a bottom line from the claims (the knowledge layer's
    when given, else read off the chosen evidence); a claim source the quotes lack is quoted too."""
    chosen = choose(cands, max_sentences, groups=q.groups if q else ())
    read = claims_from_evidence(q, chosen, catalogue) if q else []
    claims = read if claims is None else merge_claims(claims, read)
    if q is not None and q.kind == "affected_drugs" and q.groups:
        # "which drugs ... in HLA-B*13:01 carriers?": only what is stated for that group answers,
        # never another allele's or the gene's text
        claims = [c for c in claims if c.applies]
        if not claims:
            return refusal(question, no_group_reason(q), timings, q)
    comp = compose_extractive(chosen)
    line, claim_json = cited_bottom_line(q, claims, comp) if q else ("", [])
    text, problems = check_citations("\n".join(comp.lines), {c.key for c in comp.citations})
    if problems:  # our own composition always cites; a problem here is a bug worth surfacing
        raise AssertionError("; ".join(problems))
    timings["total"] = (time.perf_counter() - started) * 1000
    genes = answer_genes(comp.triples, q, claims)
    acting = [c for c in rank(claims) if c.evidence and affects(c, q)] if q else []
    drugs = tuple(dict.fromkeys(c.drug for c in acting)) or (() if q and q.kind == "affected_drugs" and q.groups
                                                             else answer_drugs([c for group in chosen for c in group]
                                                                               + list(cands), q, catalogue))
    top = next((c for c in rank(claims) if c.evidence), None)
    return QaAnswer(question=question, answer=text, refused=False, citations=tuple(comp.citations),
                    triples=tuple(comp.triples), answerer="extractive", timings_ms=timings, notes=notes,
                    kind=q.kind if q else "issue", genes=genes, drugs=drugs, groups=q.groups if q else (),
                    bottom_line=line, claims=tuple(claim_json),
                    formatted=format_text(q, genes, drugs, "answered",
                                          verdict=VERDICT.get(top.action) if top else None,
                                          action=top.action if top else None) if q else None)


def affects(claim: ClaimView, q: Question) -> bool:
    """Whether a claim names its drug as affected, for the answer's drug list. For "which drugs are
    affected by GENE?": a claim that tells the prescriber to act, or a label's statement of an effect
    for a named genotype group (exposure doubles in poor metabolizers); an abstract's association
    alone does not make a drug one the label says is affected, nor does a label's passing mention of
    the gene (a gene-wide statement counts when the label makes it a warning)."""
    if q.kind != "affected_drugs" or claim.action != "informative":
        return True
    return claim.status == "label" and (claim.phenotype is not None or claim.severity in ("critical", "warning"))


def no_group_reason(q: Question) -> str:
    return (f"no stored FDA label section or PubMed abstract states an effect for {', '.join(q.groups)}; "
            "evidence about other alleles or the gene as a whole does not answer for it.")


def merge_claims(compiled: Sequence[ClaimView], read: Sequence[ClaimView]) -> list[ClaimView]:
    """The compiled claims, plus any stronger action a quote states for a named genotype group of a drug
    and gene that the compiled claims do not carry (the quotes and the bottom line must not disagree);
    a quote that names no group (a dose for an indication) adds nothing."""
    have = {(c.drug, c.gene, c.action) for c in compiled}
    extra = [c for c in read if c.action in ("avoid", "alternative", "dose_change") and c.applies is not False
             and c.phenotype is not None and (c.drug, c.gene, c.action) not in have]
    return [*compiled, *extra]


def evidence_places(claim: ClaimView) -> list[tuple[Passage, str]]:
    """A claim's evidence as (passage, sentence): candidates from retrieval or places found by the knowledge layer."""
    return [(e.passage, e.sentence) if isinstance(e, Candidate) else (e[0], e[1]) for e in claim.evidence]


def cited_bottom_line(q: Question, claims: Sequence[ClaimView], comp: Composition) -> tuple[str, list[dict[str, Any]]]:
    """The bottom line from the claims, cited through the answer's own numbering (a source the quotes
    lack is added as a quote line, so each source is shown once), and the claims' JSON."""
    quoted = {c.key for c in comp.citations}

    def cite(claim: ClaimView) -> list[int]:
        return [comp.cite(p, sentence) for p, sentence in evidence_places(claim)]

    line = bottom_line(q, claims, cite)
    for citation in list(comp.citations):
        if citation.key not in quoted:
            comp.lines.append(f"{_trim(citation.text)} [{citation.key}]")
    checked, problems = check_citations(line, {c.key for c in comp.citations})
    if problems:  # generated from claims with evidence: an uncited clause is a bug worth surfacing
        raise AssertionError("; ".join(problems))
    claim_json = [c.to_json(sorted({k for _p, s in evidence_places(c) if (k := comp.key_of(s))}))
                  for c in claims]
    return (line if checked else ""), claim_json


def answer_genes(triples: Sequence[Triple], q: Question | None, claims: Sequence[ClaimView] = ()) -> tuple[str, ...]:
    """Genes the answer states, the asked ones first, genes to test before the rest. When a label states
    claims, its genes are the answer: genes only abstracts link to the drug are not what to test."""
    asked = list(q.genes) if q else []
    ranked = [c for c in rank(claims) if c.gene and c.evidence]
    labelled = [c for c in ranked if c.status == "label"]
    if labelled:
        stated = [c.gene for c in labelled if c.action == "test"] + [c.gene for c in labelled]
    else:
        stated = [c.gene for c in ranked if c.action == "test"] + [c.gene for c in ranked] \
            + [t.gene for t in triples if t.gene]
    return tuple(dict.fromkeys([g for g in asked if g in stated] + stated)) or tuple(asked)


def answer_drugs(cands: Sequence[Candidate], q: Question | None, catalogue: DrugCatalogue | None) -> tuple[str, ...]:
    """Drugs the answer's evidence is about: a label sentence is about its label's own drug; in the
    order the evidence ranks them."""
    asked = set(q.drugs) if q and q.drugs else None
    found = []
    for c in cands:
        own = catalogue.drug_of_set.get(c.passage.set_id or "") if catalogue and c.passage.source == "fda_label" else None
        if own and (asked is None or own in asked):
            found.append(own)
    return tuple(dict.fromkeys(found)) or tuple(sorted(asked or ()))


def format_text(q: Question, genes: Sequence[str], drugs: Sequence[str], outcome: str,
                verdict: str | None = None, action: str | None = None) -> str | None:
    """The answer in the form the asker requested, or None when no format was asked for."""
    fmt = q.format
    if fmt is None:
        return None
    if fmt.items == "genes":
        return fmt.join(list(genes)) if genes else "none found"
    if fmt.items == "drugs":
        return fmt.join(list(drugs)) if drugs else "none found"
    if fmt.items == "yes_no":
        return verdict or ("No PGx effect found" if outcome == "nothing_found" else "See the cited evidence")
    return action or "none stated"
