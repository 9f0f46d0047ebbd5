"""Turn annotated sentences of labels and abstracts into cited drug–gene–effect triples.

In a label, the label's own drug is the subject of every sentence that names no
drug; the section is evidence of the effect category. In an abstract, only
drugs named in the sentence are subjects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from spacy.language import Language

from pgxlit.extract import negation
from pgxlit.extract import relations as rel
from pgxlit.extract.conditions import find_conditions
from pgxlit.extract.factor_genes import STATUS_GENES, gene_of, is_pharmacogene, names_pharmacogene, variant_key
from pgxlit.extract.lexicons import SALT_WORDS, DictionaryMatcher, load_lexicons
from pgxlit.extract.pipeline import (
    SentenceAnnotation,
    annotate_texts,
    default_nlp,
    extractor_name,
    relation_model,
    rules_nlp,
)
from pgxlit.records import Abstract, Evidence, LabelVersion, Mention, Section, Triple

# Sections that are boilerplate for PGx purposes: package labels, storage, patient leaflets repeat the rest.
SKIP_SECTIONS = frozenset({
    "package_label_principal_display_panel", "storage_and_handling", "how_supplied",
    "spl_product_data_elements", "references", "description", "microbiology",
    "nonclinical_toxicology", "carcinogenesis_and_mutagenesis_and_impairment_of_fertility",
    "animal_pharmacology_and_or_toxicology",
})
# Tables flattened to text make unreadable evidence; their PGx facts are stated in the prose too.
SKIP_TABLES = True

# A "sentence" that is a flattened table: many words, many of them numbers, or a table caption
# running into its cells. Sentence rules never read one (issue 17: tables as tables).
_NUMERIC_TOKEN = re.compile(r"[-+(\[]*[<>≥≤~]?\d[\d.,:/–-]*%?[)\],;]*|[%±<>≥≤=–-]|n|N|NA|\(%\)")
_TABLE_CAPTION = re.compile(r"^\W*(?:Table|TABLE)\s+\d+[A-Za-z]?\b")


# Where prose may restart inside a flattened table: a line break, a sentence end before a capital,
# a numbered subsection heading ("14.5 Dysbetalipoproteinemia"), a table caption ("Table 9: ...").
_PROSE_BREAK = re.compile(
    r"\n+|(?<=[.;])\s+(?=[A-Z])|\s(?=(?:1[0-7]|[1-9])\.\d{1,2}\s+[A-Z][a-z])|\s(?=(?:Table|TABLE)\s+\d+[A-Za-z]?\s*[:.])")


def prose_of_soup(sent: SentenceAnnotation) -> list[SentenceAnnotation]:
    """The prose sentences a flattened table's "sentence" runs into ("... 7.0) 14.5 Dysbetalipoproteinemia
    The response to pravastatin in ... 46 patients with genotype E2/E2 ..."; "... in LDL-C. Five of
    the 29 patients had absent LDL-receptor function."): pieces between prose breaks that read as
    prose (6+ words, few numbers, no caption), with their own mentions. The table's cells stay unread."""
    bounds, start = [], 0
    for m in _PROSE_BREAK.finditer(sent.text):
        bounds.append((start, m.start()))
        start = m.end()
    bounds.append((start, len(sent.text)))
    out = []
    for a, b in bounds:
        text = sent.text[a:b]
        words = text.split()
        if len(words) < 6 or _TABLE_CAPTION.match(text) or is_table_soup(text):
            continue
        if sum(1 for w in words if _NUMERIC_TOKEN.fullmatch(w)) / len(words) >= 0.15:
            continue
        mentions = tuple(replace(m, start=m.start - a, end=m.end - a) for m in sent.mentions
                         if a <= m.start and m.end <= b)
        out.append(SentenceAnnotation(sent.start + a, sent.start + b, text, mentions))
    return out


def is_table_soup(sentence: str) -> bool:
    """Is this "sentence" a table's rows run together rather than prose?"""
    words = sentence.split()
    n = len(words)
    if n < 30:
        return False
    if _TABLE_CAPTION.match(sentence) or n >= 150:
        return True
    numeric = sum(1 for w in words if _NUMERIC_TOKEN.fullmatch(w)) / n
    return (n >= 40 and numeric >= 0.15) or (n >= 100 and numeric >= 0.05)


# A compound named as part of a protein: "glutamate receptor", "reduced folate carrier", "nitric oxide
# synthase", "5-hydroxytryptamine receptor 1B". ("Allopurinol transporter" stays: a transporter of the
# drug; "carriers" are people.)
_PROTEIN_HEAD = re.compile(r"[\s-]*(?:receptors?|synthase|carrier)\b", re.IGNORECASE)


# "anti-TNF agents", "anti-EGFR plus irinotecan", "anti-VEGF therapy": the gene is what a class of drugs
# acts on, named as the drug; no genetic factor, and no gene for a variant nearby to borrow.
_ANTI = re.compile(r"\banti-?\s?$", re.IGNORECASE)


# "a dopamine transporter inhibitor", "5-HT2A antagonists", "GLP-1 receptor agonists": the gene names a class of
# drugs by what they act on.
_TARGETED_BY = re.compile(r"[\s-]*(?:receptor\s+)?(?:inhibitors?|antagonists?|agonists?|blockers?)\b", re.IGNORECASE)


# "OCT1-overexpressing HEK293 cells", "CYP2D6-transfected cells": a test system made to express the gene, in which a
# drug's uptake or metabolism is measured; the gene is the drug's transporter or enzyme there, not a genetic factor.
# Plain "expressing" is left alone: "CYP3A5-expressing recipients" are a genotype group (CYP3A5*1 carriers).
_EXPRESSION_SYSTEM = re.compile(r"[\s-]*(?:over-?expressing|transfected|transduced)\b", re.IGNORECASE)


def is_drug_target(sentence: str, m: Mention, inhibitor_classes: bool = False) -> bool:
    """Is this gene mention written as the target of an "anti-" drug class, or (with `inhibitor_classes`, in
    abstracts) of an inhibitor, antagonist, agonist or blocker class ("a dopamine transporter inhibitor") or as a
    cell system made to express it ("OCT1-overexpressing HEK293 cells")? Label text keeps the latter two: "strong
    CYP2D6 inhibitors" statements are its drug interactions (triples, not PGx)."""
    return m.label == "GENE" and bool(_ANTI.search(sentence, max(0, m.start - 6), m.start)
                                      or (inhibitor_classes and (_TARGETED_BY.match(sentence, m.end)
                                                                 or _EXPRESSION_SYSTEM.match(sentence, m.end))))


def is_genetic_factor(m: Mention) -> bool:
    """Rule mentions of genes, variants, alleles and metabolizer statuses; from the trained NER only
    genes, alleles and variants. Its PHENOTYPE spans are drug responses ("toxicity", "plasma
    concentrations"), not genotypes."""
    if m.source == "model":
        return m.label in ("GENE", "ALLELE", "VARIANT")
    return m.label in rel.GENETIC


def _own_gene(factor: Mention) -> bool:
    """Does the grammar's norm already name the gene ("CYP2D6 Poor Metabolizer", "G6PD Deficiency")?"""
    words = (factor.norm or "").split(" ")
    if len(words) > 2:
        return words[0].isupper()
    return len(words) == 2 and words[0].isupper() and load_lexicons().normalise_gene(words[0]) is not None


def variant_of(factor: Mention) -> str | None:
    if factor.label == "GENE" or (factor.source == "model" and not factor.norm):
        return None  # a model phrase ("genetic variants in CYP2C19") says "some variant of the gene"
    norm = factor.norm or factor.text
    if factor.label == "VARIANT" and ":" in norm and not norm.startswith(("c.", "g.", "p.")):
        norm = norm.split(":", 1)[1]
    if factor.label == "PHENOTYPE":
        words = norm.split(" ")
        if len(words) > 2 and words[0].isupper():
            norm = " ".join(words[1:])
    return norm


def drug_of(mention: Mention, subject: Subject | None = None) -> tuple[str, str | None]:
    """A label's metabolites stand for the label's drug ("the active metabolite of clopidogrel",
    morphine in codeine's label when the label says codeine is converted to it)."""
    if subject is not None and mention.kind == "metabolite":
        return subject.name, subject.drug_id
    if mention.norm and "|" in mention.norm:
        pid, name = mention.norm.split("|", 1)
        if subject is not None and name in subject.metabolites:
            return subject.name, subject.drug_id
        return name, pid
    return mention.text.lower(), None


def abstract_drug(mention: Mention) -> tuple[str, str] | None:
    """(name, PharmGKB id) of a drug an abstract's triple may name, else None.

    A rule mention carries its lexicon entry; a mention only the trained NER found ("CsA", "EFV")
    is looked up in the lexicons by its text (plural or singular: "antidepressant" is PharmGKB's
    "antidepressants"). What the lexicons do not know is no drug for a triple: on the recorded
    abstracts those were mostly diseases, viruses and measures written short (HCV, T2DM, INR, SVR,
    BSA), statistics ("p<0.0001") and lipids. A lab analyte, nutrient or endogenous compound
    (glucose, dopamine, ATP) is no drug either, as in labels."""
    lex = load_lexicons()
    name, pid = drug_of(mention)
    if pid is None:
        text = " ".join(mention.text.split())
        found = lex.normalise_drug(text)
        if found is None and len(text) > 4 and not text.isupper():  # an acronym ("TONIC" trial) has no plural
            found = lex.normalise_drug(text[:-1] if text.lower().endswith("s") else text + "s")
        if found is None:
            return None
        pid, name = found
    return None if lex.is_not_a_drug(name) else (name, pid)


@dataclass(frozen=True, slots=True)
class Subject:
    """The implicit subject of a label's sentences: the label's own drug, and the names the
    label's metadata gives it (generic, brand, active ingredient), lower case."""

    name: str
    drug_id: str | None
    aliases: frozenset[str] = frozenset()
    metabolites: frozenset[str] = frozenset()  # drugs the label calls this drug's metabolites


# openFDA's product-data element starts "Brand generic ACTIVE INGREDIENT ..."; its first drug the
# lexicon knows is the active ingredient when generic_name is a brand (PURIXAN -> mercaptopurine).
_PRODUCT_FIELDS = ("spl_product_data_elements", "description")


def label_subject(label: LabelVersion) -> Subject | None:
    """The label's drug, named as the lexicon names it: from openFDA's generic or brand name, else
    the first known drug of the label's product data (its active ingredient), else its generic
    name with salt words dropped."""
    lex = load_lexicons()
    aliases = frozenset(" ".join(n.lower().split()) for n in (*label.generic_names, *label.brand_names) if n.strip())
    for name in (*label.generic_names, *label.brand_names):
        found = lex.normalise_drug(name)
        if found:
            return Subject(found[1], found[0], aliases | {found[1]})
    for section in label.sections:
        if section.field in _PRODUCT_FIELDS:
            for m in DictionaryMatcher(lex, genes=False).find(section.text[:400]):
                if m.norm and m.kind in ("name", "generic", "trade") and not lex.is_not_a_drug(m.norm.split("|", 1)[1]):
                    pid, name = m.norm.split("|", 1)
                    return Subject(name, pid, aliases | {name})
    if label.generic_names:
        words = label.generic_names[0].lower().split()
        while len(words) > 1 and words[-1] in SALT_WORDS:
            words.pop()
        name = " ".join(words)
        return Subject(name, None, aliases | {name})
    return None


_LABEL_DRUG = Mention(0, 0, "DRUG", "")  # a label sentence that does not name the label's drug is still about it


def _implicit_signals(sentence: str, factor: Mention) -> rel.PairSignals:
    s = rel.signals(sentence, _LABEL_DRUG, factor)
    return rel.PairSignals(s.relation, False, s.negated, s.hedged, s.pgx_cue, 0)


def sentence_triples(
    sent: SentenceAnnotation,
    evidence: Evidence,
    subject: Subject | None,
    section: str | None,
    context_gene: tuple[str, str] | None = None,
    status_gene: tuple[str, str] | None = None,
    known_variants: Mapping[str, tuple[str, str]] | None = None,
) -> list[Triple]:
    """Triples of one sentence. A metabolizer status that names no gene of its own takes
    `status_gene`, the gene the passage has already tied a status to ("CYP2D6 PMs" ... "For
    PMs, AUC ..."); else a pharmacogene named in the sentence; else `context_gene`, the PGx gene
    the surrounding text was last about. A variant whose sentence names no gene for it takes the
    gene `known_variants` (`variant_key`) gives it, what the text before wrote it with."""
    mentions = [m for m in sent.mentions if not is_drug_target(sent.text, m, inhibitor_classes=subject is None)]
    factors = [m for m in mentions if is_genetic_factor(m)]
    taken = {(m.start, m.end) for m in factors if m.norm}
    conditions = [c for c in find_conditions(sent.text) if (c.start, c.end) not in taken]
    spans = {(c.start, c.end) for c in conditions}
    factors = [f for f in factors if f.norm or (f.start, f.end) not in spans] + conditions
    if not factors or _NOT_HUMAN_GENETICS.search(sent.text):
        return []
    # "urea" inside "urea cycle disorders" is no drug.
    drugs = [m for m in mentions if m.label == "DRUG" and not any(c.start <= m.start < c.end for c in conditions)
             and not _PROTEIN_HEAD.match(sent.text, m.end)]
    named: dict[int, tuple[str, str]] = {}
    if subject is not None:
        drugs = label_subjects(sent.text, drugs, subject)
    else:  # an abstract: only drugs the lexicons know, and not a co-medication beside the drug studied
        named = {id(m): found for m in drugs if (found := abstract_drug(m)) is not None}
        drugs = abstract_subjects(sent.text, [m for m in drugs if id(m) in named], named)
    if not drugs and subject is None:
        return []  # an abstract sentence without a drug has no triple
    effect = rel.effect_of(sent.text, section)
    found: dict[tuple, Triple] = {}
    # (drug, drug id, relation, confidence, negated, hedged, factor)
    pairs: list[tuple[str, str | None, str, float, bool, bool, Mention]] = []
    model = relation_model()
    judged = {}
    if drugs and model is not None:
        index = {id(m): i for i, m in enumerate(mentions)}
        with_model = any(m.source == "model" for m in mentions) or (
            subject is None and "pgx_ner_model" in default_nlp().pipe_names
        )
        threshold = None if with_model else "rule_pipeline"
        # Only drug x genetic-factor pairs become triples: the others are not worth scoring.
        wanted = [(index[id(d)], index[id(f)]) for d in drugs for f in factors if id(f) in index and id(d) in index]
        judged = {frozenset((r.head, r.tail)): r for r in model.predict(sent.text, mentions, threshold, only=wanted)}
    if drugs:
        for d in drugs:
            name, pid = named[id(d)] if subject is None else drug_of(d, subject)
            for f in factors:
                r = judged.get(frozenset((index[id(d)], index[id(f)]))) if judged and id(f) in index else None
                sig = rel.signals(sent.text, d, f)
                negated = negation.triple_negated(sent.text, d, f, mentions, study=subject is None)
                if r is not None:  # the classifier's verdict and calibrated probability
                    pairs.append((name, pid, r.type, round(r.confidence, 2), negated, r.hedged, f))
                    continue
                # No verdict (no model, or the model saw no relation): the rules, with less confidence
                # when the model disagreed, so `--min-confidence` can drop them.
                conf = rel.confidence_of(sig, f) * (0.6 if model is not None and id(f) in index else 1.0)
                pairs.append((name, pid, sig.relation, round(conf, 2), negated, sig.hedged, f))
    elif subject is not None:
        for f in factors:
            sig = _implicit_signals(sent.text, f)
            pairs.append((subject.name, subject.drug_id, sig.relation, rel.confidence_of(sig, f),
                          negation.denial(sent.text, _LABEL_DRUG, f, mentions), sig.hedged, f))
    for name, pid, relation, confidence, negated, hedged, factor in pairs:
        close = _adjacent_pharmacogene(factor, mentions) if factor.label == "PHENOTYPE" else None
        if close is not None and not _own_gene(factor):
            symbol, hgnc = close  # "deficient in CYP2D6 (i.e., those who are poor metabolizers"
        elif factor.label == "PHENOTYPE" and not _own_gene(factor) and status_gene is not None:
            symbol, hgnc = status_gene  # the pharmacogene the passage's statuses are about
        else:
            symbol, hgnc = gene_of(factor, mentions, sent.text)
            if symbol is None and factor.label == "PHENOTYPE" and context_gene is not None:
                symbol, hgnc = context_gene
        variant = variant_of(factor)
        if symbol is None and factor.label == "VARIANT" and known_variants and variant:
            symbol, hgnc = known_variants.get(variant_key(variant), (None, None))
        if symbol is None and (variant is None or factor.kind not in ("rsid",)):
            continue  # a change with no human gene in sight (e.g. viral resistance mutations) is no PGx triple
        if factor.label == "PHENOTYPE" and symbol is None:
            continue  # "poor metabolizers" of what? Without a gene it is no triple.
        key = (name, symbol, variant)
        origin = origin_of(sent.text, factor, mentions, symbol)
        triple = Triple(
            drug=name, drug_id=pid, gene=symbol, gene_id=hgnc, variant=variant,
            relation=relation, effect=effect, negated=negated, hedged=hedged,
            confidence=confidence, pgx=origin != "somatic" and is_pgx(sent.text, factor, mentions, symbol),
            evidence=evidence, extractor=extractor_name(), origin=origin,
        )
        if key in found:  # one triple per drug, gene and variant: the surest, PGx when any mention is,
            # and a tumour's marker when one mention is and none is germline ("HER2-negative ... HER2 status")
            best, other = (triple, found[key]) if found[key].confidence < triple.confidence else (found[key], triple)
            if {best.origin, other.origin} == {"somatic", "unknown"}:
                triple = replace(best, origin="somatic", pgx=False)
            else:
                triple = replace(best, pgx=best.pgx or other.pgx) if other.pgx and not best.pgx else best
        found[key] = triple
    # A gene-only triple adds nothing when the same sentence names a variant of that gene for the drug.
    specific = {(t.drug, t.gene) for t in found.values() if t.variant}
    return [t for k, t in found.items() if t.variant or (t.drug, t.gene) not in specific]


# ---- whose PGx is it? (abstracts) --------------------------------------------------------------
# A drug written as a co-medication: "rifampin coadministration", "concomitant rifampicin use", "in
# the presence of rifampicin-based TB treatment", "phenytoin co-administration", and a drug coordinated
# after one ("co-administration of phenobarbital and/or carbamazepine"). "Receiving X", "X-based" and
# "with or without X" are not cues: in abstracts they mostly name the drug studied or a trial's arm
# ("patients receiving oxycodone", "oxaliplatin-based chemotherapy", "with or without telaprevir").
_COMEDICATION_BEFORE = re.compile(
    r"(?:co-?administ\w*|co-?treat\w*|co-?medicat\w*|concomitant(?:ly)?(?:\s+(?:use|administered|given|treatment))?|"
    r"in the presence (?:(?:or|and) (?:in )?(?:the )?absence )?of|presence (?:or|and) absence of|addition of|"
    r"interaction with)"
    r"\s+(?:of\s+)?(?:the\s+)?(?:[\w-]+(?:\s*,\s*|\s+(?:and/or|or|and)\s+)){0,2}$",  # "of phenobarbital and/or [carbamazepine]"
    re.IGNORECASE)
_COMEDICATION_AFTER = re.compile(r"^\s*(?:\([\w-]+\)\s*)?(?:co-?administ|co-?treat|co-?medicat)", re.IGNORECASE)


def _is_comedication(sentence: str, drug: Mention) -> bool:
    return bool(_COMEDICATION_BEFORE.search(sentence, max(0, drug.start - 60), drug.start)
                or _COMEDICATION_AFTER.match(sentence[drug.end: drug.end + 40]))


def abstract_subjects(sentence: str, drugs: Sequence[Mention], named: Mapping[int, tuple[str, str]]) -> list[Mention]:
    """The drug mentions of an abstract sentence that may be subjects of its genetic factors: a drug
    every mention of which is written as a co-medication is none when another drug of the sentence
    is not ("CYP2B6 G516T polymorphism but not rifampin coadministration influences ... efavirenz")."""
    cued = {id(m): _is_comedication(sentence, m) for m in drugs}
    partners = ({named[id(m)][0] for m in drugs if cued[id(m)]}
                - {named[id(m)][0] for m in drugs if not cued[id(m)]})
    kept = [m for m in drugs if named[id(m)][0] not in partners]
    return kept or list(drugs)


# ---- whose PGx is it? (labels) -----------------------------------------------------------------
# Words that make another drug in a label sentence an interaction or regimen partner, a metabolite,
# a probe or an example, not the drug a genetic factor changes.
_PARTNER_CUES = rel.CuePattern(
    r"(inhibit|induc|substrate|co-?administ|concomitant|combination|together with|\bplus\b|followed by|"
    r"regimen|\be\.g\.|such as|metabolite|convert|formation of|metaboli[sz]ed (?:to|into)|"
    r"metaboli[sz]ers?\W{0,3}\s(?:of|for)\b|hydroxyla|\bprobe|sparteine|interact|\btaking\b|\breceiving\b|"
    r"test(?:ing|ed)? with)"
)
# "codeine is converted to morphine", "endoxifen, the active metabolite", "metabolite O-desmethylvenlafaxine"
_METABOLITE_BEFORE = re.compile(
    r"(?:metabolites?|convert\w*(?: \w+)? (?:to|into)|metaboli[sz]ed (?:\w+ )?(?:to|into)|formation of)"
    r"[\s,(]*(?:(?!of\b)\w+[\s,]+){0,3}$", re.IGNORECASE)
_METABOLITE_AFTER = re.compile(r"^[\s,)]*(?:\(\w+\)\s*)?,?\s*(?:is\s+)?(?:the|an|a|its)\s+(?:\w+\s+){0,2}metabolite",
                               re.IGNORECASE)


def label_metabolites(sentences: Iterable[SentenceAnnotation], subject: Subject) -> frozenset[str]:
    """Drugs a label calls its drug's metabolites, read from its own sentences."""
    found = set()
    for sent in sentences:
        if not _METABOLITE_CUE.search(sent.text):
            continue
        for m in sent.mentions:
            if m.label != "DRUG" or not m.norm or "|" not in m.norm:
                continue
            name = m.norm.split("|", 1)[1]
            if name == subject.name or m.text.lower() in subject.aliases:
                continue
            if _METABOLITE_BEFORE.search(sent.text[max(0, m.start - 80): m.start]) or _METABOLITE_AFTER.match(
                    sent.text[m.end: m.end + 80]):
                found.add(name)
    return frozenset(found)


_METABOLITE_CUE = rel.CuePattern(r"(metabolite|convert|metaboli[sz]ed|formation of)")


def label_subjects(sentence: str, drugs: Sequence[Mention], subject: Subject) -> list[Mention]:
    """The drug mentions of a label sentence that may be subjects of its genetic factors.

    In a label the subject is the label's own drug. Another drug is one only when the sentence
    states the genetic effect for it: it does not name the label's drug and has no partner cue
    (interaction, regimen, metabolite, probe, example). Analytes (bilirubin in a laboratory
    table) and drug classes are never subjects. With none left, the label's drug is the subject.
    """
    lex = load_lexicons()
    own, other = [], []
    for m in drugs:
        name, pid = drug_of(m, subject)
        entry = lex.drugs_by_id.get(pid) if pid else None
        if name == subject.name or m.text.lower() in subject.aliases:
            own.append(m)
        elif (entry is not None and entry.kind == "class") or lex.is_not_a_drug(name):
            continue
        else:
            other.append(m)
    if own and other and all(_ADVERSE_COMPOUND.match(sentence, m.end) for m in own):
        # "with metoclopramide-induced methemoglobinemia, methylene blue treatment is not
        # recommended": the label's drug names the condition; the other drug is the one advised on.
        rest = _ADVERSE_COMPOUND_FULL.sub(" ", sentence)
        if not _PARTNER_CUES.search(rest):
            return other
    if own:
        return own
    if not other or _names_subject(sentence, subject) or _PARTNER_CUES.search(sentence):
        return []
    return other


# A drug written as the cause of an adverse condition ("metoclopramide-induced methemoglobinemia").
_ADVERSE_COMPOUND = re.compile(r"-(?:induced|associated|related)\b", re.IGNORECASE)
_ADVERSE_COMPOUND_FULL = re.compile(r"[\w-]+-(?:induced|associated|related)\b", re.IGNORECASE)


def _names_subject(sentence: str, subject: Subject) -> bool:
    low = sentence.lower()
    return any(re.search(r"(?<!\w)" + re.escape(a) + r"(?!\w)", low) for a in subject.aliases if len(a) > 2)


# ---- germline or somatic -----------------------------------------------------------------------
_GERMLINE = rel.CuePattern(
    r"(germ-?line|inherit|hereditar|familial|genotyp|allele|\*\d|metaboli[sz]er|deficien|polymorphi|"
    r"homozyg|heterozyg|carrier|haplotype|loss-of-function|\bHLA-|\brs\d|\bgBRCA)"
)
_TUMOUR = rel.CuePattern(
    r"(tumou?r|cancer|carcinoma|leuka?emia|lymphoma|melanoma|myeloma|sarcoma|glioma|neoplas|malignan|metasta|"
    r"\bNSCLC|\bCML\b|\bALL\b|\bAML\b|\bCRC\b|\bGIST\b|\bMDS\b|somatic|biopsy|oncogen|"
    r"activating mutation)"
)
# A gene's status as a tumour's marker, written beside it: HER2-positive, HER2 overexpressing,
# BRAF V600E mutation, EGFR exon 19 deletions, KRAS wild-type, ALK rearrangement.
_TUMOUR_STATUS = re.compile(
    r"(overexpress|amplif|express|positiv|negativ|\+|mutat|mutant|fusion|rearrang|wild[- ]type|status|"
    r"V600|exon|deletion|insertion|translocation|\bIHC\b|\bFISH\b|testing|tests?\b|Ph\+|Philadelphia|"
    r"oncogen|activating)",
    re.IGNORECASE,
)


# A tumour's status written right after the gene ("HER2-negative", "ERBB2 (HER2) overexpression",
# "EGFR exon 19", "BRAF V600E", "KRAS wild-type", "ALK-positive").
_TUMOUR_MARK = re.compile(
    r"[\s-]*(?:\(\w+\)\s*)?(?:over-?express|amplif|positiv|negativ|fusion|rearrang|V600|exon\b|wild[- ]type|\+)",
    re.IGNORECASE)
# Of those, the marks no germline genotype is written with: a cell's or tumour's status even where the sentence
# names its cancer only by an abbreviation ("HER2-positive mBC patients", "HER2-negative patients were randomized").
# ("UGT2B10-overexpressing HEK293 cells" are a test system, so overexpression still needs a tumour word.)
_STATUS_MARK = re.compile(r"[\s-]*(?:\(\w+\)\s*)?(?:amplif|positiv|negativ|fusion|rearrang)", re.IGNORECASE)


def origin_of(sentence: str, factor: Mention, mentions: Sequence[Mention], symbol: str | None) -> str:
    """germline, somatic or unknown, from the sentence: a germline word (allele, genotype,
    metabolizer, deficiency, inherited...) makes it germline; a tumour's status written beside the
    gene (HER2-positive, BRAF V600E mutation) in a sentence about a tumour makes it somatic."""
    if factor.label == "PHENOTYPE" or factor.label == "ALLELE":
        return "germline"
    if (factor.label == "GENE" and factor.kind != "condition" and not (symbol or "").startswith("HLA")
            and (_STATUS_MARK.match(sentence, factor.end)
                 or (_TUMOUR_MARK.match(sentence, factor.end) and _TUMOUR.search(sentence)))):
        return "somatic"  # "germline BRCA-mutated HER2-negative breast cancer": HER2 is the tumour's
    if _GERMLINE.search(sentence):
        return "germline"
    if not _TUMOUR.search(sentence):
        return "unknown"
    if factor.kind == "condition":
        return "somatic"  # a tumour's karyotype (Philadelphia chromosome, BCR-ABL)
    near = sentence[max(0, factor.start - 40): factor.end + 40]
    return "somatic" if _TUMOUR_STATUS.search(near) else "unknown"


def origin_of_triple(triple: Triple) -> str:
    """A stored triple's origin, read again from its evidence sentence when it was stored without
    one (the store has no origin column yet): the same rules as at extraction."""
    if triple.origin != "unknown" or not triple.gene:
        return triple.origin
    sentence = triple.evidence.sentence
    if triple.variant and not triple.variant.startswith(("c.", "p.", "g.")) and "V600" not in triple.variant:
        return "germline"  # an allele or metabolizer status is the patient's
    if _GERMLINE.search(sentence):
        return "germline"
    if not _TUMOUR.search(sentence):
        return "unknown"
    lex = load_lexicons()
    factors = [m for m in DictionaryMatcher(lex, drugs=False).find(sentence) if m.norm and m.norm.endswith("|" + triple.gene)]
    factors += [c for c in find_conditions(sentence) if c.norm and c.norm.endswith("|" + triple.gene)]
    origins = {origin_of(sentence, f, factors, triple.gene) for f in factors}
    return "somatic" if "somatic" in origins else "unknown"


def biomarker_triples(triples: Iterable[Triple]) -> list[Triple]:
    """Tumour (somatic) biomarker triples, with their origin filled in: what `--biomarker` lists
    beside `--pgx`, which means germline pharmacogenomics."""
    out = []
    for t in triples:
        origin = origin_of_triple(t)
        if origin == "somatic":
            out.append(replace(t, origin=origin))
    return out


_GENETIC_NEAR = rel.CuePattern(
    r"(genotyp|allele|carrier|polymorphi|variant|variation|metaboli[sz]er|deficien|pharmacogen|mutat|homozyg|"
    r"heterozyg|loss-of-function|gene\b|SNP|positive|negative|overexpress|amplif|fusion|rearrang|"
    r"status|testing|tests?\b)"
)
# Loss of the gene's function written out ("the patients lack functional LDL receptors", "patients had
# absent LDL-receptor function") is a patient's genotype, when the sentence is about patients; "lack of
# functional VHL protein results in ..." is the drug's mechanism.
_LOSS_OF_FUNCTION = rel.CuePattern(r"(\babsent\b|\black(?:s|ing)?\s+(?:of\s+)?functional|non-?functional|defective)")
_PATIENTS = rel.CuePattern(r"(patient|subject|individual|people|person|children|adults|women|\bmen\b)")


# Mutagenicity assays and the like name genes (HGPRT, TK) without any patient genotype.
_NOT_HUMAN_GENETICS = rel.CuePattern(r"(mutagen|\bAmes\b|genotoxic|clastogen|lymphoma cell assay)")
_INTERACTION_AFTER = re.compile(r"[\s-]*(?:and\s+\S+\s+)?(inhibit|induc|substrate)", re.IGNORECASE)
# A gene or allele that is the object of an inhibitor/inducer/substrate list ("not an inhibitor of
# P-gp, BCRP, OATP1B1*1a, and OATP1B3 transporters"): the protein in an interaction study.
_INTERACTION_OBJECT_BEFORE = re.compile(
    r"\b(?:inhibit(?:or|ion)s?|inducers?|induction|substrates?)\s+of\s+(?:the\s+|either\s+|both\s+|neither\s+)?"
    r"(?:[\w*./()-]+(?:\s+[\w*./()-]+)?\s*(?:,\s*(?:and\s+|or\s+)?|\s(?:and|or)\s+))*$", re.IGNORECASE)
_INTERACTION_WORD = re.compile(r"nhibit|nduc|ubstrate")  # cheap first check, any case of the first letter
# The protein as an immunoassay's antigen ("PF4 antibody testing"), not a genotype.
_ANTIBODY_AFTER = re.compile(r"[\s-]*(?:\w+[\s-]+)?(?:auto)?(?:antibod|antigen\b)", re.IGNORECASE)
# The sentence says a study did not determine the genotype ("CYP1A2 genotypes ... were not
# determined"); past tense only: "if the genotype is unknown, test" is advice about genotypes.
_GENOTYPE_UNKNOWN = rel.CuePattern(
    r"(genotyp\w*\b(?:\s+\S+){0,12}?\s+(?:(?:was|were)\s+(?:not\s+|un)|(?:had|has|have)\s+not\s+been\s+)"
    r"(?:determined|known|assessed|tested|performed|available|evaluated)|\bnot\s+(?:been\s+)?genotyped)"
)


def is_pgx(sentence: str, factor: Mention, mentions: Sequence[Mention], symbol: str | None) -> bool:
    """A genetic factor changes the drug's effect: a variant, allele or phenotype, or a gene named
    with a genetic word right beside it ("CYP2C19 genotype", "variants in DPYD"). Not when the gene
    or allele is what a drug inhibits or is a substrate of, an antibody's antigen, or when the
    sentence says the genotype was not determined."""
    window = sentence[max(0, factor.start - 160): factor.start]
    if factor.label in ("ALLELE", "GENE") and factor.kind != "condition" and _INTERACTION_WORD.search(window) and (
            _INTERACTION_OBJECT_BEFORE.search(window)):
        return False
    if factor.label == "GENE" and not (symbol or "").startswith("HLA") and _ANTIBODY_AFTER.match(sentence, factor.end):
        return False  # an HLA "antigen" is the patient's type; a PF4 antibody is not
    if "enotyp" in sentence and _GENOTYPE_UNKNOWN.search(sentence):
        return False
    if factor.label in ("ALLELE", "VARIANT", "PHENOTYPE") or factor.kind == "condition":
        return True
    for other in mentions:
        if other.label in ("ALLELE", "VARIANT", "PHENOTYPE") and symbol and symbol in (other.norm or ""):
            return True
    start, end = _coordinated_span(sentence, factor, mentions)
    if _INTERACTION_AFTER.match(sentence, end):
        return False  # "strong CYP3A4 inhibitors": a drug interaction, not a genotype
    near = sentence[max(0, start - 30) : end + 30]
    if _GENETIC_NEAR.search(near) or (_LOSS_OF_FUNCTION.search(near) and _PATIENTS.search(sentence)):
        return True
    # "patients ... known to have a genetic defect leading to reduced levels of activity of P450 2D6"
    before = sentence[max(0, start - 90) : start]
    return bool(_GENETIC_CLAUSE.search(before)) and not _CLAUSE_END.search(before[before.lower().rfind("genetic"):])


_GENETIC_CLAUSE = re.compile(r"\b(genetic(?:ally)?(?!\s+(?:engineered|modified))|inherited|hereditary)\b", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[;.]|\bbut\b|\bwhereas\b")
_COORD = re.compile(r"\s*(?:,\s*(?:and\s+|or\s+|and/or\s+)?|\s(?:and|or|and/or)\s+|\s*/\s*)")


def _coordinated_span(sentence: str, factor: Mention, mentions: Sequence[Mention]) -> tuple[int, int]:
    """The extent of a list of genes the factor is one of ("variation in CYP2B6, CYP2C9, or CYP3A5"):
    a cue beside the list is beside each of them."""
    if factor.label != "GENE":
        return factor.start, factor.end
    genes = sorted((m for m in mentions if m.label == "GENE"), key=lambda m: m.start)
    try:
        i = next(k for k, m in enumerate(genes) if m.start == factor.start and m.end == factor.end)
    except StopIteration:
        return factor.start, factor.end
    lo = hi = i
    while lo > 0 and _COORD.fullmatch(sentence, genes[lo - 1].end, genes[lo].start):
        lo -= 1
    while hi + 1 < len(genes) and _COORD.fullmatch(sentence, genes[hi].end, genes[hi + 1].start):
        hi += 1
    return genes[lo].start, genes[hi].end


def _adjacent_pharmacogene(factor: Mention, mentions: Sequence[Mention], within: int = 50) -> tuple[str, str] | None:
    """A pharmacogene named right beside a bare status (within `within` characters): it, not the
    gene the rest of the label ties statuses to, is what the status is of."""
    lex = load_lexicons()
    best: tuple[int, str, str] | None = None
    for m in mentions:
        gene = None
        if m.label == "GENE" and m.norm and "|" in m.norm and names_pharmacogene(m):
            gene = tuple(reversed(m.norm.split("|", 1)))
        elif m is not factor and m.label == "PHENOTYPE" and _own_gene(m):  # "deficient in CYP2D6"
            found = lex.normalise_gene(m.norm.split(" ")[0])
            gene = (found[1], found[0]) if found and found[1] in STATUS_GENES else None
        if gene is None:
            continue
        gap = factor.start - m.end if m.end <= factor.start else m.start - factor.end
        if 0 <= gap <= within and (best is None or gap < best[0]):
            best = (gap, gene[0], gene[1])
    return (best[1], best[2]) if best else None


def _last_pgx_gene(mentions: Sequence[Mention]) -> tuple[str, str] | None:
    for m in reversed(mentions):
        if m.label == "GENE" and m.norm and "|" in m.norm:
            hgnc, symbol = m.norm.split("|", 1)
            if is_pharmacogene(symbol):
                return symbol, hgnc
    return None


def label_triples(label: LabelVersion, nlp: Language | None = None) -> list[Triple]:
    """Label text is regular and the lexicons and grammars cover it; the NER model, trained on
    abstracts, added there mostly enzyme mentions that are no PGx biomarker (measured: precision
    0.85 -> 0.60 against PharmGKB's label list) at a tenth of the speed, so labels use the rules."""
    nlp = rules_nlp()
    subject = label_subject(label)
    sections = [
        s for s in label.sections
        if s.field not in SKIP_SECTIONS and s.text.strip() and not (SKIP_TABLES and s.is_table)
    ]
    annotated = list(zip(sections, annotate_texts((s.text for s in sections), nlp), strict=True))
    # The one gene the whole label ties metabolizer statuses to, if only one: a section that says
    # "PMs" without defining them means that gene.
    label_status = {g for _, sentences in annotated for sent in sentences for g in _status_genes(sent.mentions)}
    label_gene = next(iter(label_status)) if len(label_status) == 1 else None
    if subject is not None:
        metabolites = label_metabolites((sent for _, sentences in annotated for sent in sentences), subject)
        subject = replace(subject, metabolites=metabolites)
    out: list[Triple] = []
    for section, sentences in annotated:
        name = section.field or section.loinc or section.title
        context_gene: tuple[str, str] | None = None
        status_gene = label_gene
        for sent in (piece for whole in sentences
                     for piece in (prose_of_soup(whole) if is_table_soup(whole.text) else (whole,))):
            # a flattened table is no sentence; the prose it runs into is
            evidence = Evidence(
                source="fda_label", sentence=sent.text, start=sent.start, end=sent.end, set_id=label.set_id,
                version=label.version, section=name, effective_time=label.effective_time,
            )
            own = _status_genes(sent.mentions)
            status_gene = own[-1] if own else status_gene
            out += sentence_triples(sent, evidence, subject, section.field, context_gene, status_gene)
            context_gene = _last_pgx_gene(sent.mentions) or context_gene
    from pgxlit.extract.table_facts import label_table_triples  # tables as tables: cells with headers (issue 17)

    # a tumour marker the indication names is somatic in table rows too (a HER2 status column)
    return somatic_by_indication(out + label_table_triples(label, subject, SKIP_SECTIONS), label_tumour_genes(annotated))


def label_tumour_genes(annotated: Iterable[tuple[Section, Sequence[SentenceAnnotation]]]) -> frozenset[str]:
    """Genes the label's indications name as a tumour's marker ("NSCLC whose tumors have EGFR exon 19
    deletions", "HER2-overexpressing breast cancer", "Ph+ CML"): in this label they are somatic."""
    genes = set()
    for section, sentences in annotated:
        if section.field != "indications_and_usage":
            continue
        for sent in sentences:
            if not _TUMOUR.search(sent.text):
                continue
            factors = [m for m in sent.mentions if m.label == "GENE" and m.norm and "|" in m.norm]
            factors += find_conditions(sent.text)
            for f in factors:
                symbol = f.norm.split("|", 1)[1]
                near = sent.text[max(0, f.start - 40): f.end + 40]
                if f.kind == "condition" or _TUMOUR_STATUS.search(near):
                    genes.add(symbol)
    return frozenset(genes)


def somatic_by_indication(triples: list[Triple], tumour_genes: frozenset[str]) -> list[Triple]:
    """A sentence that gives no origin of its own ("Perform HER2 testing", "binding affinity for EGFR
    exon 19 deletion") is about the tumour marker the label is indicated for: somatic, not PGx."""
    if not tumour_genes:
        return triples
    return [replace(t, origin="somatic", pgx=False) if t.origin == "unknown" and t.gene in tumour_genes else t
            for t in triples]


def _status_genes(mentions: Sequence[Mention]) -> list[tuple[str, str]]:
    """Genes that metabolizer statuses of a sentence name themselves ("CYP2D6 poor metabolizers")."""
    lex = load_lexicons()
    out = []
    for m in mentions:
        if m.label == "PHENOTYPE" and m.kind == "metabolizer" and _own_gene(m):
            found = lex.normalise_gene(m.norm.split(" ")[0])
            if found and found[1] in STATUS_GENES:
                out.append((found[1], found[0]))
    return out


def abstract_triples(abstract: Abstract, nlp: Language | None = None) -> list[Triple]:
    [sentences] = list(annotate_texts([abstract_text(abstract)], nlp))
    return triples_of_abstract(abstract, sentences)


def triples_of_abstract(abstract: Abstract, sentences: Sequence[SentenceAnnotation]) -> list[Triple]:
    out: list[Triple] = []
    genes_of: dict[str, set[tuple[str, str]]] = {}  # variant_key -> the genes earlier sentences gave it
    for sent in sentences:
        evidence = Evidence(
            source="pubmed", sentence=sent.text, start=sent.start, end=sent.end, pmid=abstract.pmid,
            year=abstract.pub_year,
        )
        known = {key: next(iter(genes)) for key, genes in genes_of.items() if len(genes) == 1}
        found = sentence_triples(sent, evidence, None, None, known_variants=known)
        for t in found:
            if t.variant and t.gene and t.gene_id:
                genes_of.setdefault(variant_key(t.variant), set()).add((t.gene, t.gene_id))
        out += found
    return out


def abstract_text(abstract: Abstract) -> str:
    """Title and abstract as one text; evidence offsets refer to it."""
    return "\n".join([abstract.title, *(s.text for s in abstract.sections)])


def triples_for(record: LabelVersion | Abstract, nlp: Language | None = None) -> list[Triple]:
    nlp = nlp or default_nlp()
    if isinstance(record, LabelVersion):
        return label_triples(record, nlp)
    return abstract_triples(record, nlp)


def iter_triples(
    records: Iterable[tuple[str, str, LabelVersion | Abstract]], nlp: Language | None = None, batch: int = 64
) -> Iterator[tuple[str, str, list[Triple]]]:
    """(doc_key, content hash, triples) in input order; abstracts go through spaCy in batches."""
    nlp = nlp or default_nlp()
    pending: list[tuple[str, str, Abstract]] = []

    def flush() -> Iterator[tuple[str, str, list[Triple]]]:
        texts = [abstract_text(a) for _, _, a in pending]
        for (key, sha, abstract), sentences in zip(pending, annotate_texts(texts, nlp), strict=True):
            yield key, sha, triples_of_abstract(abstract, sentences)
        pending.clear()

    for key, sha, record in records:
        if isinstance(record, Abstract):
            pending.append((key, sha, record))
            if len(pending) >= batch:
                yield from flush()
        else:
            yield from flush()
            yield key, sha, label_triples(record, nlp)
    yield from flush()
