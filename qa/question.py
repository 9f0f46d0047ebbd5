"""Read a question the way a pharmacist means it: which drug(s), gene, genotype group, what is asked.

Entities come from the extraction lexicons and grammars (drug, gene, allele, phenotype), so a
question is read with the same vocabulary as the evidence. On top of them:
- the kind of question (can I give / what to test / which drugs / any issue / alternatives);
- the genotype or phenotype group, normalised ("ultra-rapid" -> "CYP2D6 ultrarapid metabolizer",
  "HLA-B*5801-positive" -> "HLA-B*58:01 carrier", "activity score of 1" -> "CYP2D6 activity score 1");
- a drug class ("SSRIs") resolved to its members in the store, and drugs known only from stored
  labels (a `DrugCatalogue`);
- a word in a drug's place that is no known drug, with the closest known names to suggest;
- a format request ("reply with only the gene symbols separated by ;"), taken out of the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pgxlit.extract import grammars
from pgxlit.extract.lexicons import DictionaryMatcher, entity_names, load_lexicons
from pgxlit.qa.drugs import DrugCatalogue, DrugClass, class_vocabulary
from pgxlit.records import Mention

# Where a pharmacist names the drug: "before prescribing X", "taking X", "dose of X", "X and CYP2C19".
DRUG_SLOT = re.compile(
    r"\b(?:prescrib\w*|taking|take|starting|start|giving|give|dos(?:e|ing) of|using|use of|on|for|about|with)\s+"
    r"(?:an?\s+|the\s+)?([A-Za-z][A-Za-z0-9-]{3,})", re.IGNORECASE,
)
# "Is X safe for ...", "X in CYP2D6 poor metabolizers": the word before a verdict or a genotype.
SUBJECT_SLOT = re.compile(
    r"\b(?:is|are|can|does|should)\s+([A-Za-z][A-Za-z0-9-]{3,})\s+(?:safe|effective|contraindicated|ok|okay|"
    r"recommended|appropriate|dangerous|be|need|require|work|used|given|affected)\b", re.IGNORECASE,
)
# International nonproprietary name stems: a word ending so is almost surely a drug name.
DRUG_STEM = re.compile(
    r"[a-z]{3,}(?:mab|tinib|nib|pril|sartan|olol|azole|cillin|mycin|statin|vir|parin|platin|taxel|rubicin|fenac|"
    r"profen|oxacin|cycline|dipine|setron|triptan|prazole|tidine|gliptin|glitazone|semide|caine|codone|morphone|"
    r"azepam|zolam|barbital|tadine|lukast|dronate|afil)$", re.IGNORECASE,
)
NOT_DRUGS = frozenset(
    "a an the this that these patients patient someone people my our their his her what which whom genotype "
    "status testing test check dose dosing drug drugs medication medications medicine medicines therapy treatment "
    "carriers carrier metabolizer metabolizers poor normal rapid ultrarapid intermediate alternatives alternative "
    "issue issues problem problems pharmacogenomic pharmacogenomics pgx genes gene patients' allele alleles".split()
)

KINDS = ("phenotype", "pair", "test", "affected_drugs", "alternatives", "issue")
ALTERNATIVES = re.compile(
    r"\balternatives?\b|\binstead of\b|\b(?:cannot|can't|can ?not|unable to|could not|couldn't)\s+(?:take|tolerate|use|have|receive|get)\b"
    r"|\bswitch(?:ed|ing)? (?:from|to)\b|\bsubstitut\w+\b|\bwhat else\b", re.I)
TEST_GENES = re.compile(
    r"\b(?:which|what)\s+(?:pharmacogenes|genes?|genetic tests?|genotyp\w*|tests?)\b"
    r"|\bgenes? (?:should|must|do|to)\b[^?]{0,30}\btest\w*|\btest(?:ed|ing)? for\b[^?]{0,30}\bbefore\b"
    r"|\bgenotyp\w* before\b|\bneed (?:a |any )?(?:genetic |pharmacogenetic |pgx )?test", re.I)
WHICH_DRUGS = re.compile(
    r"\b(?:which|what|list(?: the)?|name(?: the)?|any)\s+(?:other\s+)?(?:drugs?|medications?|medicines?|agents?|"
    r"prescriptions?)\b|\bdrugs? (?:are|is) affected\b", re.I)
WHICH = re.compile(r"^\s*(?:which|what)\b", re.I)
CAN_GIVE = re.compile(r"\b(?:can|may|should|could)\s+(?:i|we|you|one)\s+(?:give|prescribe|use|start|administer|dispense)\b"
                      r"|\bis\s+\w+\s+(?:safe|ok|okay|appropriate)\b|\bsafe (?:for|in)\b", re.I)

# Metabolizer abbreviations labels and pharmacists use, after a gene ("CYP2D6 PM", "CYP2C19 UMs").
STATUS_ABBREVIATION = {"um": "ultrarapid metabolizer", "rm": "rapid metabolizer", "nm": "normal metabolizer",
                       "em": "normal metabolizer", "im": "intermediate metabolizer", "pm": "poor metabolizer"}
ABBREVIATED_STATUS = re.compile(r"\b(?P<gene>[A-Z][A-Z0-9]{2,}[0-9][A-Z0-9]*)\s+(?P<abbr>UM|RM|NM|EM|IM|PM)s?\b")
STATUS_WORDS = (
    (re.compile(r"\bultra[\s-]?rapid\b|\bultra[\s-]?extensive\b", re.I), "ultrarapid metabolizer"),
    (re.compile(r"(?<!ultra)(?<!ultra-)(?<!ultra )\brapid metaboli[sz]", re.I), "rapid metabolizer"),
    (re.compile(r"\b(?:normal|extensive) metaboli[sz]", re.I), "normal metabolizer"),
    (re.compile(r"\bintermediate metaboli[sz]", re.I), "intermediate metabolizer"),
    (re.compile(r"\bpoor metaboli[sz]", re.I), "poor metabolizer"),
    (re.compile(r"\bpartial(?:ly)? (?:deficien\w+|DPD deficien\w+)|\bdeficien\w+ partial", re.I), "partial deficiency"),
    (re.compile(r"\b(?:complete(?:ly)?|total(?:ly)?) (?:\w+ )?deficien\w+", re.I), "complete deficiency"),
    (re.compile(r"\b(?:poor|no|non-?) ?function\b|\bnon-?functional\b|\bloss[- ]of[- ]function\b", re.I), "poor function"),
    (re.compile(r"\bdecreased function\b|\breduced function\b", re.I), "decreased function"),
    (re.compile(r"\bincreased function\b", re.I), "increased function"),
)
ZYGOSITY = ((re.compile(r"\bheterozyg\w*|\bone (?:copy|allele)\b|\bsingle (?:copy|allele)\b", re.I), "heterozygous"),
            (re.compile(r"\bhomozyg\w*|\btwo (?:copies|alleles)\b|\bbiallelic\b", re.I), "homozygous"))
DEFICIENT = re.compile(r"\bdeficien\w+\b", re.I)
ACTIVITY = re.compile(r"\bactivity score(?: of| is|:|=)?\s*(\d(?:\.\d+)?)", re.I)
HLA = re.compile(r"^HLA-[A-Z0-9]+\*\d{2,4}(?::\d{2,4})*$")
# A genotype at an rsID: "rs9923231 AA", "rs9923231 A/G", "rs9923231 genotype GG" (the bases in capitals).
RS_GENOTYPE = re.compile(r"\b(rs\d+)\s*(?:genotype\s*)?\(?([ACGT])\s*/?\s*([ACGT])\b(?![\w/])")

# "Reply with only the gene symbols separated by ;", "answer yes or no", "as a comma-separated list".
FORMAT_REQUEST = re.compile(
    r"[\s,;:-]*\b(?:please\s+)?(?:reply|answer|respond|return|give(?: me)?|list|output|just)\b[^.?!]*?"
    r"\b(?:only|just|nothing but|solely)\b[^.?!]*[.?!\s]*$"
    r"|[\s,;:-]*\b(?:please\s+)?(?:reply|answer|respond|return|give|output)\b[^.?!]*?\b(?:as|in)\s+(?:a\s+)?"
    r"(?:comma|semicolon|newline|line)[- ]separated\b[^.?!]*[.?!\s]*$"
    r"|[\s,;:-]*\b(?:answer|reply)\s+(?:with\s+)?(?:just\s+)?yes or no\b[^.?!]*[.?!\s]*$", re.I)
FORMAT_ITEMS = (
    (re.compile(r"\bgene(?: symbol)?s?\b|\bsymbols?\b", re.I), "genes"),
    (re.compile(r"\bdrug(?: name)?s?\b|\bmedications?\b|\bmedicines?\b", re.I), "drugs"),
    (re.compile(r"\byes(?: or |/)no\b", re.I), "yes_no"),
    (re.compile(r"\bactions?\b|\brecommendations?\b", re.I), "action"),
)
SEPARATOR = re.compile(
    r"\bseparated by\s+(?:an?\s+|the\s+)?(?P<sep>semi-?colons?|commas?|new ?lines?|line breaks?|spaces?|pipes?|tabs?"
    r"|slash(?:es)?|[\"'`“]?[^\s\"'`”]{1,3}[\"'`”]?)"
    r"|\b(?P<named>comma|semicolon|newline|line)[- ]separated\b", re.I)
SEPARATOR_WORDS = {"semicolon": ";", "semi-colon": ";", "comma": ",", "newline": "\n", "new line": "\n",
                   "line": "\n", "line break": "\n", "space": " ", "pipe": "|", "tab": "\t", "slash": "/"}


@dataclass(frozen=True, slots=True)
class FormatRequest:
    """How the asker wants the text: only these items, joined so. JSON still carries the citations."""

    items: str  # genes | drugs | yes_no | action
    separator: str  # e.g. ";" (joined with the space a reader expects after it)
    instruction: str  # the words as asked

    def join(self, values: list[str]) -> str:
        sep = self.separator
        return (sep + " " if sep in ",;|" else sep).join(values)


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    drugs: tuple[str, ...]  # canonical names (a class's members in the store, when a class is asked)
    genes: tuple[str, ...]  # HGNC symbols, from genes, alleles and metabolizer phrases
    alleles: tuple[str, ...]  # normalised allele, HLA, rsID or diplotype mentions
    phenotypes: tuple[str, ...]
    unknown_drug: str | None = None  # a word in a drug's place that pgxlit does not know
    kind: str = "issue"  # one of KINDS
    groups: tuple[str, ...] = ()  # genotype/phenotype groups asked about, normalised
    drug_class: str | None = None  # the class asked about ("selective serotonin reuptake inhibitors")
    class_term: str | None = None  # as the asker wrote it ("SSRIs")
    suggestions: tuple[str, ...] = ()  # known drug names close to `unknown_drug`
    format: FormatRequest | None = None
    search_text: str = ""  # the question without its format request: what retrieval reads

    @property
    def query(self) -> str:
        return self.search_text or self.text


_matcher: DictionaryMatcher | None = None


def recognise(text: str) -> list[Mention]:
    """Mentions in a text, as the extraction recogniser finds them (`PgxEntityRecognizer.find`: lexicon
    matches and grammars, overlaps resolved) without importing the spaCy pipeline around it: a
    one-shot `pgxlit ask` then never loads spaCy, thinc or torch. Remembered per text: a warm
    answerer meets the same evidence sentences again and again."""
    return list(_mentions(text))


@lru_cache(maxsize=20_000)
def _mentions(text: str) -> tuple[Mention, ...]:
    global _matcher
    if _matcher is None:
        _matcher = DictionaryMatcher(load_lexicons())
    return tuple(grammars.resolve_overlaps([*_matcher.find(text), *grammars.find_all(text, generic=False)]))


def split_format(text: str) -> tuple[str, FormatRequest | None]:
    """The question without its format request, and the request ("only gene symbols, ';'")."""
    match = FORMAT_REQUEST.search(text)
    if match is None:
        return text, None
    instruction = match.group(0).lstrip(" .,;:!?-").rstrip(" .?!")
    items = next((name for pattern, name in FORMAT_ITEMS if pattern.search(instruction)), None)
    if items is None:
        return text, None
    sep = SEPARATOR.search(instruction)
    separator = ", "
    if sep:
        word = (sep.group("sep") or sep.group("named") or "").strip("\"'`“”").lower()
        word = re.sub(r"(?:es|s)$", "", word) if len(word) > 3 else word
        separator = SEPARATOR_WORDS.get(word, word if len(word) <= 3 else ",")
    elif items != "yes_no":
        separator = ","
    question = text[: match.start()].rstrip(" ,;:-") or text
    return question, FormatRequest(items, separator.strip() if separator.strip() else separator, instruction)


def phenotype_groups(text: str, mentions: list, genes: tuple[str, ...]) -> tuple[str, ...]:
    """Genotype/phenotype groups the question asks about, each with its gene, in one spelling."""
    lone_gene = genes[0] if len(genes) == 1 else None
    groups: list[str] = []

    def add(gene: str | None, what: str) -> None:
        group = f"{gene} {what}" if gene else what
        if group not in groups:
            groups.append(group)

    for m in mentions:
        if m.label == "ALLELE" and m.norm and HLA.match(m.norm):
            add(None, f"{m.norm} carrier")
        elif m.label in ("ALLELE", "VARIANT") and (m.norm or m.text):
            add(None, m.norm or m.text)
    for m in RS_GENOTYPE.finditer(text):  # the rsID's genotype, in place of the bare rsID
        genotype = f"{m.group(1).lower()} {m.group(2)}{m.group(3)}"
        groups[:] = [genotype if g == m.group(1).lower() else g for g in groups]
        add(None, genotype)
    for m in ABBREVIATED_STATUS.finditer(text):
        add(m.group("gene"), STATUS_ABBREVIATION[m.group("abbr").lower()])
    for pattern, what in STATUS_WORDS:
        if pattern.search(text):
            add(lone_gene, what)
    if DEFICIENT.search(text) and not any("deficiency" in g for g in groups):
        add(lone_gene, "deficiency")
    for m in ACTIVITY.finditer(text):
        add(lone_gene, f"activity score {m.group(1)}")
    zygosity = next((z for pattern, z in ZYGOSITY if pattern.search(text)), None)
    if zygosity:
        groups = [f"{g} ({zygosity})" for g in groups] or ([f"{lone_gene} {zygosity}"] if lone_gene else [])
    return tuple(groups)


def question_kind(text: str, drugs: tuple[str, ...], genes: tuple[str, ...], groups: tuple[str, ...],
                  drug_class: str | None) -> str:
    """What is asked, from the question's wording and what it names (never from a list of drugs)."""
    if ALTERNATIVES.search(text) and (drugs or drug_class):
        return "alternatives"
    if TEST_GENES.search(text) and (drugs or drug_class) and not groups:
        return "test"
    if (not drugs and not drug_class and (genes or groups)) or (
            WHICH_DRUGS.search(text) and (genes or groups)) or (drug_class and WHICH.search(text) and (genes or groups)):
        return "affected_drugs"
    if (drugs or drug_class) and groups:
        return "phenotype"
    if (drugs or drug_class) and genes:
        return "pair"
    return "issue"


def read_question(text: str, catalogue: DrugCatalogue | None = None) -> Question:
    """Entities, kind, groups and format of a question; a word where a drug should be but unknown is
    kept to say so, with the closest known names."""
    text = " ".join(text.split())
    search_text, fmt = split_format(text)
    mentions = recognise(search_text)
    drug_names, gene_names = entity_names(mentions)
    lex = load_lexicons()
    vocabulary = class_vocabulary()
    drug_class: DrugClass | None = None
    class_term: str | None = None
    for m in mentions:
        if m.label != "DRUG":
            continue
        pid, _, name = (m.norm or "").partition("|")
        entry = lex.drugs_by_id.get(pid)
        if entry is not None and entry.kind == "class":
            found = vocabulary.find(pid, name)
            drug_names.discard(name)
            if found is not None and drug_class is None:
                drug_class, class_term = found, m.text
    if catalogue is not None:
        drug_names.update(d for d in catalogue.find_in(search_text) if d not in drug_names)
    members = catalogue.class_members(drug_class, vocabulary) if catalogue is not None and drug_class else ()
    alleles = tuple(dict.fromkeys(m.norm or m.text for m in mentions if m.label in ("ALLELE", "VARIANT")))
    phenotypes = tuple(dict.fromkeys(m.norm or m.text for m in mentions if m.label == "PHENOTYPE"))
    genes = tuple(sorted(gene_names | {m.group("gene") for m in ABBREVIATED_STATUS.finditer(search_text)
                                        if lex.normalise_gene(m.group("gene"))}))
    groups = phenotype_groups(search_text, mentions, genes)
    unknown = None
    suggestions: tuple[str, ...] = ()
    if not drug_names and drug_class is None:
        unknown = unknown_drug_word(search_text)
        if unknown and catalogue is not None:
            suggestions = catalogue.suggest(unknown)
    drugs = tuple(sorted(drug_names)) if drug_names else tuple(members)
    named = tuple(sorted(drug_names)) or ((unknown,) if unknown else ())
    kind = question_kind(search_text, named, genes, groups, drug_class.name if drug_class else None)
    return Question(text, drugs, genes, alleles, phenotypes, unknown, kind, groups,
                    drug_class.name if drug_class else None, class_term, suggestions, fmt, search_text)


def unknown_drug_word(text: str) -> str | None:
    """A word standing where a drug would, that no lexicon knows (so pgxlit can say it does not know it)."""
    lex = load_lexicons()
    slots = [m.group(1) for pattern in (DRUG_SLOT, SUBJECT_SLOT) for m in pattern.finditer(text)]
    stems = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9-]+", text) if DRUG_STEM.fullmatch(w)]
    for word in (w.rstrip("?.,;") for w in [*stems, *slots]):
        if word.lower() in NOT_DRUGS or lex.normalise_gene(word):
            continue
        return word
    return None
