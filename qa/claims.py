"""The knowledge layer's claims that answer a question: which ones, whether they apply, and where to cite.

`pgxlit.knowledge` compiles per-drug claims from the stored triples (one claim per drug, gene,
genotype group and action, each source sentence once). A question picks its claims here: the
asked drug's (or, for "which drugs ...", the asked gene's or allele's), allele-exact, and marks
each as applying or not to the genotype/phenotype group the question names. Each claim's
citations are found again as indexed passages, so the bottom line cites through the same
numbered sources as the quotes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pgxlit.knowledge.applies import applies, applies_to_phenotype, phenotype_of_score
from pgxlit.knowledge.genotype import GeneCall, GenotypeError, GenotypeTable, load_table
from pgxlit.knowledge.groups import score_text
from pgxlit.qa.bottom_line import ClaimView
from pgxlit.qa.question import Question

from pgxlit.records import Passage
from pgxlit.store import Store

WORDS_TO_PHENOTYPE = {
    "ultrarapid metabolizer": "Ultrarapid Metabolizer", "rapid metabolizer": "Rapid Metabolizer",
    "normal metabolizer": "Normal Metabolizer", "intermediate metabolizer": "Intermediate Metabolizer",
    "poor metabolizer": "Poor Metabolizer", "partial deficiency": "Intermediate Metabolizer",
    "complete deficiency": "Poor Metabolizer", "deficiency": "Deficient", "poor function": "Poor Function",
    "decreased function": "Decreased Function", "increased function": "Increased Function",
}


@dataclass(frozen=True, slots=True)
class AskedGroup:
    """A group from the question in the knowledge layer's terms: a gene and a phenotype, or an HLA allele."""

    gene: str | None
    phenotype: str | None = None  # CPIC wording ("Poor Metabolizer")
    hla: str | None = None  # "HLA-B*58:01"
    score: str | None = None  # an activity score as asked ("1"), with `phenotype` its CPIC band
    call: GeneCall | None = None  # a genotype as asked, read with CPIC's tables as the check reads a result


# A genotype as the question reader writes it: "CYP2C9*1/*3", "UGT1A1*28 (homozygous)", "VKORC1:-1639AA",
# "rs9923231 AA".
_ASKED_DIPLOTYPE = re.compile(r"^(?P<gene>[A-Z][A-Z0-9-]+?)\s*(?P<alleles>\*[^/\s]+(?:/\*?[^/\s]+)?)$")
_ASKED_GENOTYPE = re.compile(r"^(?:(?P<gene>[A-Z][A-Z0-9-]+):)?(?P<name>rs\d+|\S*\d\S*?)\s*(?P<bases>[ACGT]\s*/?\s*[ACGT])$")


def read_genotype(group: str, table: GenotypeTable | None = None) -> GeneCall | None:
    """A diplotype or variant genotype asked about, as CPIC's tables read it (the check's reading:
    "CYP2C9*1/*3" -> Intermediate Metabolizer with activity score 1); None when it is no genotype or
    the tables cannot read it. A lone allele asked as homozygous is its own diplotype."""
    table = table or load_table()
    text, _, zygosity = group.partition(" (")
    try:
        m = _ASKED_DIPLOTYPE.match(text)
        if m and table.knows(m.group("gene")):
            alleles = m.group("alleles")
            if "/" not in alleles:
                if not zygosity.startswith("homozygous"):
                    return None
                alleles = f"{alleles}/{alleles}"
            return table.read(m.group("gene"), alleles, group).calls[0]
        m = _ASKED_GENOTYPE.match(text)
        if m:
            bases = re.sub(r"[\s/]", "", m.group("bases"))
            if m.group("name").lower().startswith("rs"):
                return table.genotype(m.group("name"), bases, group)
            if m.group("gene") and table.knows(m.group("gene")):
                return table.read(m.group("gene"), f"{m.group('name')} {bases}", group).calls[0]
    except GenotypeError:
        return None
    return None


def asked_groups(q: Question) -> list[AskedGroup]:
    """The question's groups ("CYP2D6 activity score 1" -> CYP2D6 Intermediate Metabolizer; "CYP2C9*1/*3"
    -> that result, as the check reads it)."""
    out: list[AskedGroup] = []
    for group in q.groups:
        text = group.rsplit(" (", 1)[0]
        hla = re.match(r"(HLA-[A-Z0-9]+\*\d{2}:\d{2}) carrier$", text)
        if hla:
            out.append(AskedGroup(hla.group(1).split("*")[0], hla=hla.group(1)))
            continue
        call = read_genotype(group)
        if call is not None:
            out.append(AskedGroup(call.gene, call.phenotype, call=call))
            continue
        gene = next((g for g in q.genes if text.startswith(g + " ")), q.genes[0] if len(q.genes) == 1 else None)
        words = text[len(gene) + 1:] if gene and text.startswith(gene + " ") else text
        score = re.match(r"activity score (\d+(?:\.\d+)?)$", words)
        if score:
            value = float(score.group(1))
            out.append(AskedGroup(gene, phenotype_of_score(gene, value), score=score_text(value)))
        elif words in WORDS_TO_PHENOTYPE:
            out.append(AskedGroup(gene, WORDS_TO_PHENOTYPE[words]))
    return out


def applies_to(claim: Any, groups: Sequence[AskedGroup]) -> bool | None:
    """True when the claim is about an asked group, False when about another group of the same gene,
    None when it is about the gene as a whole or nothing was asked."""
    kind, _, value = claim.group.partition(":")
    mine = [g for g in groups if g.gene in (None, claim.gene)]
    if not mine:
        return None
    if kind == "gene":
        return None
    table = load_table()
    for g in mine:
        if g.call is not None:  # a genotype asked: the check's own matching, allele-exact
            if applies(claim, g.call) is not None:
                return True
        elif g.hla is not None:
            if kind == "hla" and value == g.hla:
                return True
        elif kind == "activity" and g.score is not None:  # a score asked: only that score's claims
            if value == g.score:
                return True
        elif g.phenotype is not None and kind != "hla" and applies_to_phenotype(claim, g.phenotype,
                                                                                 table.phenotype_of):
            return True
    return False


def who(claim: Any) -> str | None:
    """Who a claim is about, as a plural phrase for a sentence ("CYP2D6 ultrarapid metabolizers")."""
    kind, _, value = claim.group.partition(":")
    if kind == "gene":
        return None
    if kind == "phenotype":
        return f"{claim.gene} {value.lower()}s"
    if kind == "hla":
        return f"{value} carriers"
    if kind == "deficiency":
        return f"patients with {value} {claim.gene} deficiency"
    if kind == "allele":
        return f"{claim.gene} {value} " + ("homozygotes" if claim.copies == 2 else "carriers")
    if kind == "diplotype":
        return f"{claim.gene} {value} patients"
    if kind == "activity":
        return f"patients with a {claim.gene} activity score of {value}"
    if kind == "variant":
        return f"{value} carriers"
    if kind == "genotype":
        return f"{claim.gene} {value} patients"
    if kind == "function":
        return f"patients with {claim.phenotype}"
    return f"patients with {claim.phenotype}"


def select_claims(q: Question, kb: Any, labelled: Callable[[str], bool]) -> list[tuple[Any, bool | None]]:
    """The claims that answer the question, each with whether it applies to the asked group."""
    groups = asked_groups(q)
    hla_asked = {g.hla for g in groups if g.hla}
    if q.drugs and q.kind != "affected_drugs":
        claims = [c for d in q.drugs for c in kb.claims_for(d)]
    else:
        genes = q.genes or tuple(g.gene for g in groups if g.gene)
        claims = [c for g in genes for c in kb.claims_for_gene(g) if labelled(c.drug)]
        if q.drugs:  # a class: its members only
            claims = [c for c in claims if c.drug in q.drugs]
        claims = [c for c in claims if c.status == "label"] or claims
    if q.genes:
        claims = [c for c in claims if c.gene in q.genes]
    if hla_asked:  # allele-exact: another HLA allele's claims do not answer
        claims = [c for c in claims if not c.group.startswith("hla:") or c.group[4:] in hla_asked]
    return [(c, applies_to(c, groups)) for c in claims]


class CitationFinder:
    """Finds a knowledge citation's sentence again among the indexed passages (newest place first)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._passages: dict[str, list[Passage]] = {}
        self._spaced: dict[int, tuple[str, tuple[tuple[str, str], ...]]] = {}  # passage id -> its text and sentences, spaces folded

    def passages_of(self, doc_key: str) -> list[Passage]:
        if doc_key not in self._passages:
            if len(self._passages) > 512:
                self._passages.clear()
                self._spaced.clear()
            self._passages[doc_key] = self.store.passages_of(doc_key)
        return self._passages[doc_key]

    def find(self, citation: Any, gene: str | None = None) -> tuple[Passage, str] | None:
        """The passage holding the citation's sentence and the sentence as that passage has it. With
        `gene`, a passage about that gene comes first: a two-gene table row is indexed once per gene
        (warfarin's CYP2C9 x VKORC1 cell), and a CYP2C9 claim cites the row's CYP2C9 entry."""
        wanted = " ".join(citation.sentence.split())
        places = sorted(citation.places, key=lambda p: (p.source != "fda_label", -(p.version or 0)))
        first: tuple[Passage, str] | None = None
        for place in places:
            key = f"label:{place.set_id}:{place.version}" if place.source == "fda_label" else f"pubmed:{place.pmid}"
            for passage in self.passages_of(key):
                if place.section and passage.section and passage.section != place.section:
                    continue
                found = self._sentence_in(passage, wanted)
                if found is None:
                    continue
                if gene is None or gene in passage.genes:
                    return passage, found
                first = first or (passage, found)
        return first

    def _folded(self, passage: Passage) -> tuple[str, tuple[tuple[str, str], ...]]:
        """The passage's text and sentences with runs of white space folded, worked out once per passage:
        every ask looks for its claims' sentences in the same few passages."""
        key = id(passage)
        if key not in self._spaced:
            sentences = () if passage.kind == "triple" else tuple(
                (sentence, " ".join(sentence.split())) for _offset, sentence in passage.sentences())
            self._spaced[key] = (" ".join(passage.text.split()), sentences)
        return self._spaced[key]

    def _sentence_in(self, passage: Passage, wanted: str) -> str | None:
        """The sentence as the passage has it; a triple entry's evidence sentence without the facts
        written before it ("warfarin VKORC1 rs9923231 GG influences dosage."), which are ours, not the label's."""
        text, sentences = self._folded(passage)
        for sentence, folded in sentences:
            if folded == wanted or wanted in folded:
                return sentence
        return wanted if wanted in text else None


def claim_views(selected: Sequence[tuple[Any, bool | None]], finder: CitationFinder) -> list[ClaimView]:
    """Knowledge claims as the bottom line reads them; evidence is (passage, sentence) pairs to cite."""
    out: list[ClaimView] = []
    for claim, applies in selected:
        evidence = tuple(found for c in claim.citations[:3] if (found := finder.find(c, claim.gene)) is not None)
        out.append(ClaimView(drug=claim.drug, gene=claim.gene, phenotype=who(claim), action=claim.action,
                             status=claim.status, testing_level=claim.testing_level, severity=claim.severity,
                             applies=applies, dose=claim.dose, evidence=evidence))
    return out
