"""The spaCy pipeline that finds PGx entities, built from registered factories.

    tokenizer   scispaCy's rule tokenizer (keeps HLA-B*57:01, rs9923231 whole; extract/tokenizer.py)
    sentencizer spaCy's rule sentence splitter (fast; pysbd is 15x slower here)
    pgx_headings            a sentence start at a label subsection heading with no period before it
                            ("… ( 2.4 , 8.7 ) 2.1 Dosing Information …"; extract/boundaries.py). After the
                            sentencizer, so it only adds starts (the sentencizer also keeps a start set
                            before it, with its default overwrite=False)
    pgx_abbreviations       scispaCy's abbreviation detector, brackets found faster
                            (extract/abbreviations.py); short forms inherit the long form's entity
    pgx_entities            lexicon matcher + grammars (this module)

Components are factories registered by name, so a trained NER component can
be added or swapped by naming it in `Settings.extract_components` without
changing code. Entities are kept as `Mention`s with document offsets in
`doc._.pgx_mentions` (and as spans in `doc.spans["pgx"]`).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import re
import shutil
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pgxlit.extract import boundaries  # noqa: F401  (registers "pgx_headings")
from pgxlit.extract import grammars
from pgxlit.extract.lexicons import DictionaryMatcher, load_lexicons
from pgxlit.extract.tokenizer import doc_text, rule_tokenizer
from pgxlit.records import Mention, RelationMention

DEFAULT_COMPONENTS = ("sentencizer", "pgx_headings", "pgx_abbreviations", "pgx_entities")

if not Doc.has_extension("pgx_mentions"):
    Doc.set_extension("pgx_mentions", default=None)


class PgxEntityRecognizer:
    """Lexicon and grammar mentions for a whole doc, overlaps resolved, abbreviations applied."""

    def __init__(self, use_lexicons: bool = True, use_grammars: bool = True, generic_variants: bool = False) -> None:
        self.matcher = DictionaryMatcher(load_lexicons()) if use_lexicons else None
        self.use_grammars = use_grammars
        self.generic_variants = generic_variants

    def find(self, text: str) -> list[Mention]:
        found: list[Mention] = []
        if self.matcher is not None:
            found += [m for m in self.matcher.find(text) if not is_trade_name_misread(m, text)
                      and not is_glued_gene(m, text) and not is_genotype_letters(m, text)]
        if self.use_grammars:
            found += grammars.find_all(text, generic=self.generic_variants)
        return grammars.resolve_overlaps(found)

    def __call__(self, doc: Doc) -> Doc:
        mentions = self.find(doc_text(doc))
        if doc.has_extension("abbreviations") and getattr(doc._, "abbreviations", None):
            mentions = apply_abbreviations(doc, mentions)
        return set_mentions(doc, mentions)


# A trade name glued by a hyphen to the word before it is part of that word, not the drug: "P-selectin"
# (a protein, not Selectin, a pravastatin brand). A trade name followed by "trial" or "study" names the
# study ("the SPIRIT trial"). Generic names are never read so, and a trade name before a hyphenated
# tail stays a drug ("Adriamycin-induced", "formalin-fixed").
_GLUED_BEFORE = re.compile(r"[A-Za-z0-9]-$")
_STUDY_AFTER = re.compile(r"[\s-]+(?:trials?|study|studies|investigators|group)\b", re.IGNORECASE)


def is_trade_name_misread(mention: Mention, text: str) -> bool:
    """A trade-name lexicon hit in running text that is no drug: the tail of a hyphenated word, or a study's name."""
    if mention.label != "DRUG" or mention.kind != "trade":
        return False
    return bool(_GLUED_BEFORE.search(text, max(0, mention.start - 2), mention.start)
                or _STUDY_AFTER.match(text, mention.end))


# A subtype number in brackets ("beta(1)", "alpha(2A)") glued to what follows is part of one name.
_SUBTYPE_BEFORE = re.compile(r"\(\d{1,2}[A-Z]?\)$")


def is_glued_gene(mention: Mention, text: str) -> bool:
    """A gene symbol written straight after a bracketed subtype number is the tail of a longer name, not
    that gene: "beta(1)AR" is the beta-1 adrenergic receptor, not AR (the androgen receptor). A marker
    list keeps its genes ("CD4(+)CD25(+)")."""
    return mention.label == "GENE" and bool(_SUBTYPE_BEFORE.search(text, max(0, mention.start - 6), mention.start))


# A gene symbol spelled in nucleotide letters (GC, TG, AGT, CAT) is a genotype or haplotype when the text
# writes it as one: before "genotype(s)", "haplotype(s)", "allele(s)" or "carriers" ("the +405 GC
# genotype"), beside another such string ("TT/TG", "GG + GC", "AGT or CGC haplotypes"), or straight
# after a variant's name ("rs1049174 GC polymorphism", "LCS-6 TG").
_NUCLEOTIDES = re.compile(r"[ACGT]{2,4}")
_GENOTYPE_AFTER = re.compile(r"\s*(?:(?:/|\+|or|vs\.?|and)\s*[ACGT]{1,4}\b|(?:genotypes?|haplotypes?|alleles?|carriers?)\b)")
_GENOTYPE_BEFORE = re.compile(r"(?:\b[ACGT]{1,4}\s*(?:/|\+|or|vs\.?|and)|\brs\d+|[+-]\d+|\b\d+)\s*$")


def is_genotype_letters(mention: Mention, text: str) -> bool:
    """A gene symbol in nucleotide letters that the text writes as a genotype, not the gene."""
    if mention.label != "GENE" or not _NUCLEOTIDES.fullmatch(mention.text):
        return False
    return bool(_GENOTYPE_AFTER.match(text, mention.end)
                or _GENOTYPE_BEFORE.search(text, max(0, mention.start - 20), mention.start))


def set_mentions(doc: Doc, mentions: list[Mention]) -> Doc:
    """Store mentions on the doc: as `Mention`s (offsets, norms) and as spans for spaCy users."""
    doc._.pgx_mentions = mentions
    spans = []
    for m in mentions:
        span = doc.char_span(m.start, m.end, label=m.label, alignment_mode="expand")
        if span is not None:
            spans.append(span)
    doc.spans["pgx"] = spans
    return doc


def apply_abbreviations(doc: Doc, mentions: list[Mention]) -> list[Mention]:
    """A short form defined in the text takes the label and identity of its long form.

    "poor metabolizers (PMs)": every later "PMs" becomes a PHENOTYPE; a short
    form whose long form is no entity of ours keeps what the lexicon said.
    """
    mentions = _gene_names_kept(doc, mentions)
    by_span = {(m.start, m.end): m for m in mentions}
    added: list[Mention] = []
    for short in doc._.abbreviations:
        long_form = short._.long_form
        if long_form is None:
            continue
        source = [m for m in mentions if m.start >= long_form.start_char and m.end <= long_form.end_char]
        if len(source) != 1:
            continue
        src = source[0]
        covered = (long_form.end_char - long_form.start_char) * 0.6 <= (src.end - src.start)
        key = (short.start_char, short.end_char)
        if not covered or key in by_span and by_span[key].label == src.label:
            continue
        if any(m.start < key[1] and key[0] < m.end for m in mentions):
            continue
        added.append(Mention(key[0], key[1], src.label, short.text, src.norm, "abbreviation", "abbreviation"))
    if not added:
        return mentions
    return sorted([*mentions, *added], key=lambda m: (m.start, m.end))


def _gene_names_kept(doc: Doc, mentions: list[Mention]) -> list[Mention]:
    """A drug word inside the long form of a gene symbol is part of the gene's name, not a drug:
    "selectin E (SELE)" is no pravastatin (Selectin), "dopamine receptor D2 (DRD2)" no dopamine. Only a
    drug that leaves words of the long form outside it is refused: "oxytocin (OXT)" may name the hormone.
    Where the refused drug was the long form's only mention, the long form becomes a mention of the gene."""
    refused: set[tuple[int, int]] = set()
    named: list[Mention] = []
    for short in doc._.abbreviations:
        long_form = short._.long_form
        if long_form is None:
            continue
        lo, hi = long_form.start_char, long_form.end_char
        gene = next((m for m in mentions if m.label == "GENE" and m.source == "lexicon"
                     and (m.start, m.end) == (short.start_char, short.end_char)), None)
        inside = [m for m in mentions if lo <= m.start and m.end <= hi]
        if gene is None or any(m.label == "GENE" for m in inside):
            continue
        drugs = {(m.start, m.end) for m in inside if m.label == "DRUG" and (m.start, m.end) != (lo, hi)}
        if drugs and not any(m.start < hi and lo < m.end and (m.start, m.end) not in drugs for m in mentions):
            named.append(Mention(lo, hi, "GENE", long_form.text, gene.norm, "long_form", "abbreviation"))
        refused |= drugs
    if not refused:
        return mentions
    kept = [m for m in mentions if m.label != "DRUG" or (m.start, m.end) not in refused]
    return sorted([*kept, *named], key=lambda m: (m.start, m.end))


@Language.factory(
    "pgx_entities",
    default_config={"use_lexicons": True, "use_grammars": True, "generic_variants": False},
)
def make_pgx_entities(
    nlp: Language, name: str, use_lexicons: bool, use_grammars: bool, generic_variants: bool
) -> PgxEntityRecognizer:
    return PgxEntityRecognizer(use_lexicons, use_grammars, generic_variants)


def model_path(setting: str) -> str | None:
    """Which NER model folder the `extract_model` setting selects, if any."""
    if setting == "none":
        return None
    from pgxlit.extract.ner_model import default_model_dir

    if setting == "auto":
        folder = default_model_dir()
        return str(folder) if (folder / "meta.json").is_file() else None
    return setting


def build_nlp(
    components: Sequence[str] = DEFAULT_COMPONENTS, generic_variants: bool = False, model: str | None = None
) -> Language:
    """A blank English pipeline with scispaCy's tokenizer, the named components and, given a
    model folder, the trained NER after the rules (it fills what they miss)."""
    import pgxlit.extract.abbreviations  # noqa: F401  (registers "pgx_abbreviations")

    nlp = spacy.blank("en")
    nlp.tokenizer = rule_tokenizer(nlp)
    for component in components:
        config = {"generic_variants": generic_variants} if component == "pgx_entities" else {}
        nlp.add_pipe(component, config=config)
    if model is not None:
        import pgxlit.extract.ner_model  # noqa: F401  (registers "pgx_ner_model")

        nlp.add_pipe("pgx_ner_model", config={"path": model, "mode": "fill"})
    return nlp


@lru_cache(maxsize=4)
def default_nlp(generic_variants: bool = False) -> Language:
    """Built once per process, with the NER model the settings select: models load once."""
    from pgxlit.config import get_settings

    return build_nlp(generic_variants=generic_variants, model=model_path(get_settings().extract.model))


@lru_cache(maxsize=1)
def relation_model() -> Any:
    """The trained relation classifier the settings select, or None for the rules.
    "transformer" (or a folder whose meta.json says kind "relation_transformer") is the fine-tuned
    MiniLM classifier (extract/relation_transformer.py): slower, same `predict` contract."""
    from pgxlit.config import get_settings
    from pgxlit.extract.relation_model import RelationModel, default_model_dir

    setting = get_settings().extract.relations
    if setting == "rules":
        return None
    if setting == "auto":
        folder = default_model_dir()
        return RelationModel.load(folder) if (folder / "model.json").is_file() else None
    from pgxlit.extract import relation_transformer as rtf

    if setting == "transformer":
        return rtf.TransformerRelationModel.load(rtf.default_model_dir())
    if rtf.is_transformer_folder(setting):
        return rtf.TransformerRelationModel.load(setting)
    return RelationModel.load(setting)


def relate(sentence: str, mentions: Sequence[Mention]) -> list[RelationMention]:
    """Relations of one sentence: the trained classifier when shipped, else the rules."""
    from pgxlit.extract import relations as rules

    model = relation_model()
    return model.predict(sentence, mentions) if model is not None else rules.relate(sentence, mentions)


@lru_cache(maxsize=1)
def rules_nlp() -> Language:
    """The pipeline without the trained NER (labels: regular text the rules cover, 10x faster)."""
    return build_nlp(model=None)


@lru_cache(maxsize=1)
def extractor_name() -> str:
    """Recorded with every triple, so a rerun with another model re-extracts. 0.3: label tables
    are read cell by cell (extract/table_facts.py); 0.4: label sentences stop at subsection
    headings (extract/boundaries.py), so stored label evidence is cut again; 0.5: an abstract's
    triples name only drugs the lexicons know (extract/triples.abstract_drug); 0.6: hyphenated
    compounds are split ("LTG-related" -> "LTG", "-related"; extract/tokenizer.split_compounds); 0.7: a
    co-medication is no subject of an abstract's genes (extract/triples.abstract_subjects); 0.8: the trained
    NER retrained on the split tokens (corpora/models/pgx_ner); 0.9: a gene written as an "anti-" drug
    class's target is no genetic factor (extract/triples.is_drug_target); 0.10: a compound named as part of
    a protein ("glutamate receptor", "reduced folate carrier") is no drug of a triple; 0.11: a bare variant
    takes the gene written right after it ("rs2242480 (in CYP3A4)"; extract/factor_genes.gene_of); 0.12: a
    bracketed variant takes the gene its brackets follow, an HLA serotype its locus, and a trade name
    glued after a hyphen or naming a trial is no drug (is_trade_name_misread); 0.13: a sentence that ends
    in a capital letter ("681G-->A.") ends there (extract/tokenizer.split_final_periods); 0.14: an abstract's
    variant written without its gene takes the gene the abstract gave it before (factor_genes.variant_key), and
    a gene symbol glued to a bracketed subtype number ("beta(1)AR") is no gene (is_glued_gene); 0.15: a gene
    symbol in nucleotide letters written as a genotype ("rs1049174 GC", "TT/TG") is no gene
    (is_genotype_letters); 0.16: a drug word inside the long form of a gene symbol is part of the gene's name
    ("selectin E (SELE)"; _gene_names_kept), and a variant written after a gene name nothing identifies
    borrows no other gene (factor_genes._unknown_gene_before); with it the lexicons drop drug synonyms that spell a
    gene symbol ("IL-1RN"), and an abstract's gene named as an inhibitor class's target is no genetic factor
    (is_drug_target), "none of" or "irrespective of X genotype" negates an abstract's pair (negation.factor_negated),
    a gene written "-positive" or "-negative" is a tumour's marker with or without a tumour word, and a "not"
    that is part of an instruction ("do not administer") or of "not been studied" denies nothing; 0.17: a negation
    denies a pair only within its scope (extract/negation.py): not one that describes the factor ("no function
    allele"), the people studied ("who did not have known G6PD deficiency"), another mention of a contrast ("but not
    atenolol"), what is unknown or unavailable, or a failed effect stated as a risk ("may not be effective"); 0.18:
    "no dose proven safe" is a risk, "but not X," a contrast inside its clause, "absence of X" a genotype group, a
    gene written as a cell system ("OCT1-overexpressing HEK293 cells") is no genetic factor in abstracts, and a bare
    variant borrows no gene written with its own bracketed variant ("ENOX1(rs9594987), rs703297"); 0.19: a variant
    in nested brackets takes the gene heading the outer ones ("ABCB1 [c.2677G>T/A (rs2032582), ...]")."""
    name = "rules+ner" if "pgx_ner_model" in default_nlp().pipe_names else "rules"
    return name + ("+rel" if relation_model() is not None else "") + "-0.19"


@dataclass(frozen=True, slots=True)
class SentenceAnnotation:
    """One sentence with its mentions and relations; offsets are within the sentence."""

    start: int  # offset of the sentence in the text it came from
    end: int
    text: str
    mentions: tuple[Mention, ...]
    relations: tuple[RelationMention, ...] = ()


def _shift(m: Mention, by: int) -> Mention:
    return replace(m, start=m.start - by, end=m.end - by)


def sentences_of(doc: Doc) -> list[SentenceAnnotation]:
    """Split a processed doc into sentences with sentence-relative mentions."""
    mentions = doc._.pgx_mentions or []
    full = doc_text(doc)
    out: list[SentenceAnnotation] = []
    i = 0
    for sent in doc.sents:
        s, e = sent.start_char, sent.end_char
        inside: list[Mention] = []
        while i < len(mentions) and mentions[i].start < e:
            if mentions[i].start >= s:
                inside.append(_shift(mentions[i], s))
            i += 1
        text = full[s:e]  # == sent.text, without rebuilding it from tokens
        # A mention across a sentence boundary (a splitting error) stays with the sentence it starts in.
        inside = [m for m in inside if m.end <= len(text)] + [
            replace(m, end=len(text), text=text[m.start :]) for m in inside if m.end > len(text)
        ]
        out.append(SentenceAnnotation(s, e, text, tuple(sorted(inside, key=lambda m: m.start))))
    return out


def annotate_texts(texts: Iterable[str], nlp: Language | None = None, batch_size: int = 64) -> Iterator[list[SentenceAnnotation]]:
    """Sentences with mentions for each text, streamed in order (through the memo `remembering` made
    active for this pipeline in this thread, if any: the same annotations, each distinct text once)."""
    nlp = nlp or default_nlp()
    memo = next((m for m in reversed(_active_memos()) if m.nlp is nlp), None)
    if memo is not None:
        yield from memo.annotate(list(texts))
        return
    yield from _pipe_annotations(texts, nlp, batch_size)


def _pipe_annotations(texts: Iterable[str], nlp: Language, batch_size: int = 64) -> Iterator[list[SentenceAnnotation]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scispaCy's W036 on texts without abbreviations
        for doc in nlp.pipe(texts, batch_size=batch_size):
            yield sentences_of(doc)


# ---- annotations handed over: extraction -> passage cutting ------------------------------------
HANDOVER = Path("handover") / "rule-annotations"  # under $PGXLIT_HOME
# The code the rule pipeline runs: an edit of any of them gives other annotations, so another version.
RULE_MODULES = ("pgxlit.extract.pipeline", "pgxlit.extract.grammars", "pgxlit.extract.lexicons",
                "pgxlit.extract.abbreviations", "pgxlit.extract.boundaries", "pgxlit.extract.tokenizer",
                "pgxlit.records")


@lru_cache(maxsize=1)
def rules_version() -> str:
    """Changes with the rule pipeline's code, its lexicons and spaCy/scispaCy, so a handed-over annotation
    is read only by the pipeline that would have made it."""
    import scispacy.version

    from pgxlit.extract.lexicons import default_dir, lexicon_fingerprint

    h = hashlib.sha256(f"{spacy.__version__}|{scispacy.version.VERSION}|{DEFAULT_COMPONENTS}".encode())
    for name in RULE_MODULES:
        h.update(Path(importlib.import_module(name).__file__ or "").read_bytes())
    h.update(lexicon_fingerprint(default_dir()).encode())
    return h.hexdigest()[:16]


def handover_folder(home: Path) -> Path:
    """Where `pgxlit extract` leaves the rule annotations of label sections for `pgxlit index`."""
    return Path(home) / HANDOVER


def clear_handover(home: Path) -> None:
    """The index has cut what it was handed: drop the folder, so it never outgrows one extraction's labels."""
    folder = handover_folder(home)
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()  # `handover/`, when nothing else is handed over
    except OSError:
        pass


_RULES_VERSION_NAME = re.compile(r"[0-9a-f]{16}")  # `rules_version()`: a handover folder's name
_STALE_NAME = re.compile(r"\.[0-9a-f]{16}\.stale\.\d+\.\d+")  # one being removed by `_drop_other_versions`


class AnnotationMemo:
    """Sentences and mentions of texts already run through one pipeline, for the callers that meet them again.

    Label versions repeat most sections word for word, and extraction and passage cutting both run the
    rule pipeline over every section; an annotation depends only on the text and the pipeline, so each
    distinct text is annotated once. At most `limit` texts are kept in memory (least recently used go
    first), so memory stays flat as a corpus grows. With a `handover` folder each new annotation is also
    written there (one file per text, named by its digest, under the rules' version), and a text not in
    memory is read from there before it is annotated: that is how `pgxlit index` reuses what `pgxlit
    extract` annotated in another process. A missing, stale or unreadable file only costs the annotation.

    The folder stays bounded: a text is written once per rules version (a repeated `pgxlit extract --all`
    reads its own earlier files and writes nothing new), and a memo opening the folder removes the folders
    of other rules versions, which no pipeline of this code reads (each edit of the rules or lexicons would
    otherwise leave one more). `pgxlit index` drops the rest once it has cut the passages.
    """

    def __init__(self, nlp: Language | None = None, limit: int = 2048, handover: Path | None = None) -> None:
        self.nlp = nlp or rules_nlp()
        self.limit = limit
        self.handover = Path(handover) / rules_version() if handover is not None else None
        self._known: OrderedDict[str, list[SentenceAnnotation]] = OrderedDict()
        self.hits = 0  # texts found in memory
        self.misses = 0  # texts not in memory: read from the handover or annotated
        self.handed = 0  # of the misses, read from the handover folder
        if self.handover is not None:
            self._drop_other_versions()

    def annotate(self, texts: Sequence[str]) -> list[list[SentenceAnnotation]]:
        """The annotation of each text, in order; texts not seen lately are read or run through the pipeline in one batch."""
        found: dict[str, list[SentenceAnnotation]] = {}
        for text in texts:
            if text in self._known:
                self._known.move_to_end(text)
                found[text] = self._known[text]
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        for text in missing:
            handed = self._read(text)
            if handed is not None:
                found[text] = self._known[text] = handed
                self.handed += 1
        fresh = [t for t in missing if t not in found]
        for text, sentences in zip(fresh, _pipe_annotations(fresh, self.nlp), strict=True):
            found[text] = self._known[text] = sentences
            self._write(text, sentences)
        while len(self._known) > self.limit:
            self._known.popitem(last=False)
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        return [list(found[t]) for t in texts]

    def _drop_other_versions(self) -> None:
        """Remove the handover folders of other rules versions (and any a killed removal left behind).

        Only names a rules version can have are touched, never a symlink or a file. Each folder is first
        renamed to a hidden name (atomic), so a process of other code still reading it sees all of it or
        none, and none is a miss that costs only the annotation."""
        own = self.handover
        assert own is not None
        try:
            entries = list(own.parent.iterdir())
        except OSError:
            return  # nothing handed over yet
        for entry in entries:
            if entry.name == own.name or entry.is_symlink() or not entry.is_dir():
                continue
            if _RULES_VERSION_NAME.fullmatch(entry.name):
                trash = entry.with_name(f".{entry.name}.stale.{os.getpid()}.{threading.get_ident()}")
                try:
                    os.rename(entry, trash)
                except OSError:
                    continue  # another process removed it first
            elif _STALE_NAME.fullmatch(entry.name):
                trash = entry
            else:
                continue
            shutil.rmtree(trash, ignore_errors=True)

    def _path(self, text: str) -> Path:
        digest = hashlib.sha256(text.encode()).hexdigest()
        return self.handover / digest[:2] / f"{digest}.pickle"  # type: ignore[operator]

    def _read(self, text: str) -> list[SentenceAnnotation] | None:
        if self.handover is None:
            return None
        try:
            stored_text, sentences = pickle.loads(self._path(text).read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
            return None
        return sentences if stored_text == text else None  # a digest collision reads as a miss

    def _write(self, text: str, sentences: list[SentenceAnnotation]) -> None:
        if self.handover is None:
            return
        path = self._path(text)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(pickle.dumps((text, sentences), protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(tmp, path)  # readers see a whole file or none
        except OSError:
            pass  # a full or read-only disk costs the next process the annotation, nothing else


_MEMOS = threading.local()


def _active_memos() -> list[AnnotationMemo]:
    stack = getattr(_MEMOS, "stack", None)
    if stack is None:
        stack = _MEMOS.stack = []
    return stack


@contextmanager
def remembering(memo: AnnotationMemo) -> Iterator[AnnotationMemo]:
    """While active (in this thread), `annotate_texts` with the memo's pipeline goes through the memo.

    Extraction reads label sections through the rule pipeline; with a memo it annotates each repeated
    section once and, given a handover folder, leaves the annotations for the passage cutter."""
    stack = _active_memos()
    stack.append(memo)
    try:
        yield memo
    finally:
        stack.remove(memo)
