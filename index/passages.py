"""Cut labels and abstracts into passages: short windows of whole sentences that keep their provenance.

A passage is what we search and what an answer cites, so it keeps exactly where it was read
(set_id + version + section, or PMID) and which drugs and genes it names. A label's own drug
counts as named in every passage of the label: label text says "this drug" or nothing at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pgxlit.extract.lexicons import entity_names
from pgxlit.extract.pipeline import AnnotationMemo, SentenceAnnotation, annotate_texts, rules_nlp
from pgxlit.extract.triples import SKIP_SECTIONS, abstract_text, label_subject
from spacy.language import Language

from pgxlit.records import Abstract, LabelVersion, Passage, Triple
from pgxlit.sections import PATIENT_SECTIONS, base_code

MAX_WINDOW_CHARS = 900
# Boilerplate for PGx questions. Packaging, storage, "how supplied" and the like (extraction's
# SKIP_SECTIONS) are not cut into passages at all; patient leaflets and counselling (the
# vocabulary's patient_text sections), which repeat the prescriber sections in plain words, are
# cut and searched through BM25 but not embedded. `boilerplate=True` (the index.embed_boilerplate
# setting) cuts and embeds them all.
UNCUT_SECTIONS = SKIP_SECTIONS
BM25_ONLY_SECTIONS = PATIENT_SECTIONS


TRIPLE_VECTORS = ("facts", "text", "none")


def embeddable(section: str | None, superseded: bool, *, boilerplate: bool = False, kind: str = "passage",
               triple_vectors: str = "facts") -> bool:
    """Does a passage get a vector? Superseded versions and patient leaflets are BM25-only by default.

    Embedding is the costly part of indexing: text that only repeats what is embedded elsewhere, or
    that searches skip unless asked for (old label versions), is found through BM25 and filters.
    Triple entries get one unless `triple_vectors` is "none" (then dense search reaches a triple
    only through its passage's vector: measured worse, docs/speed.md)."""
    if triple_vectors not in TRIPLE_VECTORS:
        raise ValueError(f"index_triple_vectors must be one of {', '.join(TRIPLE_VECTORS)}; got {triple_vectors!r}")
    if superseded or (kind == "triple" and triple_vectors == "none"):
        return False
    return boilerplate or base_code(section) not in BM25_ONLY_SECTIONS


def windows(sentences: Sequence[SentenceAnnotation], size: int) -> Iterator[list[SentenceAnnotation]]:
    """Consecutive sentences, at most `size` of them and about MAX_WINDOW_CHARS long."""
    window: list[SentenceAnnotation] = []
    for sent in sentences:
        if not sent.text.strip():
            continue
        if window and (len(window) >= size or sent.end - window[0].start > MAX_WINDOW_CHARS):
            yield window
            window = []
        window.append(sent)
    if window:
        yield window


def _passage(text: str, window: list[SentenceAnnotation], **fields: object) -> Passage:
    start, end = window[0].start, window[-1].end
    drugs, genes = entity_names(m for s in window for m in s.mentions)
    own = fields.pop("own_drug", None)
    if own:
        drugs.add(str(own))
    return Passage(
        text=text[start:end], start=start, end=end, sentence_starts=tuple(s.start - start for s in window),
        drugs=tuple(sorted(drugs)), genes=tuple(sorted(genes)), **fields,  # type: ignore[arg-type]
    )


def label_passages(label: LabelVersion, size: int = 3, nlp: Language | None = None, *,
                   boilerplate: bool = False, annotations: AnnotationMemo | None = None) -> list[Passage]:
    """Passages of every section worth reading (no flattened tables; no packaging or storage unless `boilerplate`).

    `annotations` (a memo of the rule pipeline, `nlp`'s) lets the sections a label's other versions
    share be annotated once, and reads what extraction handed over: annotating them is most of the
    cost of cutting passages (docs/speed.md); an annotation depends only on the text."""
    skip = frozenset() if boilerplate else UNCUT_SECTIONS
    sections = [
        s for s in label.sections if s.field not in skip and s.text.strip() and not s.is_table
    ]
    subject = label_subject(label)
    out: list[Passage] = []
    annotated = (annotations or AnnotationMemo(nlp)).annotate([s.text for s in sections])
    for section, sentences in zip(sections, annotated, strict=True):
        for window in windows(sentences, size):
            out.append(_passage(
                section.text, window, doc_key=f"label:{label.set_id}:{label.version}", source="fda_label",
                set_id=label.set_id, version=label.version, section=section.field or section.loinc or section.title,
                section_title=section.title, effective_time=label.effective_time, title=label.title,
                own_drug=subject.name if subject else None,
            ))
    return out


def abstract_passages(abstract: Abstract, size: int = 3, nlp: Language | None = None,
                      sentences: Sequence[SentenceAnnotation] | None = None) -> list[Passage]:
    """Title and abstract in windows; offsets are in the title+abstract text triples also use."""
    text = abstract_text(abstract)
    if sentences is None:
        [sentences] = list(annotate_texts([text], nlp or rules_nlp()))
    return [
        _passage(text, window, doc_key=f"pubmed:{abstract.pmid}", source="pubmed", pmid=abstract.pmid,
                 year=abstract.pub_year, title=abstract.title)
        for window in windows(sentences, size)
    ]


def triple_entry(triple: Triple, evidence: Passage) -> Passage:
    """A triple as its own searchable entry: its facts in words, then its sentence; it points at its passage."""
    facts = " ".join(x for x in (triple.drug, triple.gene, triple.variant, triple.relation, triple.effect) if x)
    text = f"{facts}. {triple.evidence.sentence}"
    return Passage(
        doc_key=evidence.doc_key, source=evidence.source, text=text, start=triple.evidence.start,
        end=triple.evidence.end, sentence_starts=(0,), set_id=evidence.set_id, version=evidence.version,
        section=evidence.section, section_title=evidence.section_title, effective_time=evidence.effective_time,
        pmid=evidence.pmid, year=evidence.year, title=evidence.title,
        drugs=tuple(sorted({triple.drug, *evidence.drugs})), genes=tuple(sorted({g for g in (triple.gene,) if g})),
        kind="triple", evidence_passage_id=evidence.id, superseded=evidence.superseded,
    )


def vector_text(text: str, kind: str, triple_vectors: str = "facts") -> str:
    """What a passage is embedded from: its text, or for a triple entry under "facts" only the facts before its sentence.

    The facts ("clopidogrel CYP2C19 *2 associated decreased_efficacy") carry what a question asks about in
    a tenth of the tokens of the sentence, whose words its passage's vector already holds; repeated
    triples share one such text, so a build embeds each once."""
    if kind == "triple" and triple_vectors == "facts":
        return text.split(". ", 1)[0]
    return text


def evidence_passage(triple: Triple, passages: Sequence[Passage]) -> Passage | None:
    """The passage of the same document and section whose span holds the triple's sentence."""
    e = triple.evidence
    for p in passages:
        if p.section == e.section and p.start <= e.start < p.end:
            return p
    return None
