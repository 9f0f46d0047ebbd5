"""Rule-based relations between a drug and a genetic factor within one sentence.

Pure functions over a sentence and its mentions. The relation type comes from
the trigger words between (or near) the two mentions, the effect category
from cue words in the sentence (and, for labels, from the section), and
negation and hedging from cue words in the same clause. The confidence is a
transparent score of those signals; a trained model can replace this module
behind the same `relate` signature.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pgxlit.extract import negation
from pgxlit.records import Mention, RelationMention
from pgxlit.sections import DEFAULT_EFFECT

GENETIC = ("ALLELE", "VARIANT", "GENE", "PHENOTYPE")


class CuePattern:
    """A case-insensitive cue pattern, searched in the lowercased text with a lowercased pattern.

    Python's `re` runs alternations of words 3-10x slower under IGNORECASE (measured on the
    recorded abstracts: the effect cues went from 78 to 26 µs a sentence). Only for yes/no
    questions: `text.lower()` may change the length of a few non-ASCII strings, so offsets of a
    match are not offsets in the original text.
    """

    __slots__ = ("pattern", "_compiled")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern  # as written (relation_model.cues_fingerprint reads it)
        self._compiled = re.compile(_lower_literals(pattern))

    def search(self, text: str) -> re.Match[str] | None:
        return self._compiled.search(text.lower())


def _lower_literals(pattern: str) -> str:
    """The pattern with its literal letters lowercased; escapes (\\b, \\S, \\W, ...) kept as they are."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append(pattern[i].lower())
        i += 1
    return "".join(out)


_TRIGGERS: tuple[tuple[str, CuePattern], ...] = tuple(
    (name, CuePattern(pattern))
    for name, pattern in (
        ("decreases", r"\b(decreas\w*|reduc\w*|lower\w*|diminish\w*|impair\w*|less\b|loss of|inhibit\w*|attenuat\w*)"),
        ("increases", r"\b(increas\w*|higher|elevat\w*|greater|enhanc\w*|augment\w*|more\b|prolong\w*)"),
        ("causes", r"\b(caus\w*|induc\w*|lead(?:s|ing)? to|result(?:s|ed)? in|risk of|develop\w*|trigger\w*)"),
        ("treats", r"\b(treat(?:s|ed|ing|ment of)?\b|therapy for|indicated for)"),
        ("influences", r"\b(influenc\w*|affect\w*|alter\w*|modulat\w*|determin\w*|metaboli[sz]\w*|predict\w*|"
                       r"impact\w*|depend\w*|contribut\w*|respons\w*|effect of|role of|variab\w*)"),
        ("isAssociatedWith", r"\b(associat\w*|correlat\w*|linked|link\b|relationship|related)"),
    )
)
_NEGATION = CuePattern(negation.CUE_WORDS)
_HEDGE = CuePattern(
    r"\b(may|might|could|possibl\w*|potential\w*|suggest\w*|likely|appear\w*|hypothes\w*|whether|"
    r"unclear|unknown|investigat\w*|evaluat\w*|assess\w*|aim\w*|explor\w*)\b"
)
_EFFECTS: tuple[tuple[str, CuePattern], ...] = tuple(
    (name, CuePattern(pattern))
    for name, pattern in (
        ("toxicity", r"(toxicit|adverse|hypersensitiv|stevens|epidermal necrolysis|\bSJS\b|\bTEN\b|neutropeni|"
                     r"myelosuppress|agranulocyt|bleed|hemorrhag|haemorrhag|hepatotox|side effect|reactions?\b|"
                     r"hemoly|haemoly|methemoglobin|myopathy|rhabdomyolysis|QT prolong|death|fatal|"
                     r"respiratory depression|malignant hyperthermia|mucositis|diarrh)"),
        ("dosage", r"(\bdos(e|es|ed|ing|age)\b|\bmg\b|titrat|starting dose|maintenance dose|dose adjust)"),
        ("metabolism", r"(metaboli|clearance|exposure|\bAUC|plasma (level|concentration)|concentrations?\b|"
                       r"pharmacokinetic|half-life|\bCmax|bioavailab|active metabolite)"),
        ("efficacy", r"(efficac|respon(se|der|d)|effective|remission|survival|outcome|response rate|"
                     r"antiplatelet|platelet (reactivity|aggregation)|relapse|therapeutic effect)"),
    )
)
_PGX_CUES = CuePattern(
    r"(genotyp|allele|carrier|polymorphi|variant|mutation|metaboli[sz]er|deficien|heterozyg|homozyg|"
    r"haplotype|pharmacogen|\bHLA-|\bSNP)"
)
# Sections of a label that are evidence of the effect when the sentence itself says little.
SECTION_EFFECT = DEFAULT_EFFECT
_CLAUSE_BREAK = re.compile(r"[;:]|\bwhereas\b|\bbut\b|\bhowever\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PairSignals:
    """What the rules saw for one drug–factor pair (kept for explanation and for training)."""

    relation: str
    trigger_between: bool
    negated: bool  # the clause's plain negation cue, a feature of the relation model (triples: extract/negation.py)
    hedged: bool
    pgx_cue: bool
    distance: int


def effect_of(sentence: str, section: str | None = None) -> str:
    for name, pattern in _EFFECTS:
        if pattern.search(sentence):
            return name
    return SECTION_EFFECT.get(section or "", "other")


def _window(sentence: str, a: Mention, b: Mention) -> tuple[str, bool]:
    """Text between the two mentions, or around them when they touch."""
    lo, hi = sorted((a, b), key=lambda m: m.start)
    between = sentence[lo.end : hi.start]
    if len(between.strip()) > 2:
        return between, True
    return sentence[max(0, lo.start - 60) : hi.end + 60], False


@lru_cache(maxsize=8192)
def signals(sentence: str, drug: Mention, factor: Mention) -> PairSignals:
    """Cached: the classifier's features, its flags and the triples' fallback ask for the same pair."""
    return _signals(sentence, drug, factor)


@lru_cache(maxsize=2048)
def _pgx_cue_in(sentence: str) -> bool:
    return bool(_PGX_CUES.search(sentence))


def _signals(sentence: str, drug: Mention, factor: Mention) -> PairSignals:
    text, is_between = _window(sentence, drug, factor)
    relation = "isAssociatedWith"
    found = False
    for name, pattern in _TRIGGERS:
        if pattern.search(text):
            relation, found = name, True
            break
    if not found and is_between:
        # Look just around the pair: "CYP2C19 poor metabolizers have reduced ... clopidogrel".
        lo, hi = sorted((drug, factor), key=lambda m: m.start)
        around = sentence[max(0, lo.start - 80) : hi.end + 80]
        for name, pattern in _TRIGGERS:
            if pattern.search(around):
                relation = name
                break
    lo, hi = sorted((drug, factor), key=lambda m: m.start)
    clause_start = max((m.end() for m in _CLAUSE_BREAK.finditer(sentence, 0, lo.start)), default=0)
    clause = sentence[clause_start : hi.end + 40]
    return PairSignals(
        relation=relation,
        trigger_between=found and is_between,
        negated=bool(_NEGATION.search(clause)),
        hedged=bool(_HEDGE.search(clause)),
        pgx_cue=factor.label in ("ALLELE", "VARIANT") or _pgx_cue_in(sentence),
        distance=hi.start - lo.end,
    )


def confidence_of(s: PairSignals, factor: Mention) -> float:
    """A transparent score in [0, 1]; calibration against gold is reported by `pgxlit eval`."""
    score = 0.35
    score += 0.25 if s.trigger_between else 0.0
    score += 0.15 if s.pgx_cue else 0.0
    score += 0.10 if factor.label in ("ALLELE", "VARIANT", "PHENOTYPE") else 0.0
    score -= 0.15 if s.distance > 150 else 0.0
    score -= 0.10 if s.hedged else 0.0
    return round(min(0.95, max(0.05, score)), 2)


def relate(sentence: str, mentions: Sequence[Mention]) -> list[RelationMention]:
    """Relations between each drug and each genetic factor of one sentence (offsets within it)."""
    relations: list[RelationMention] = []
    drugs = [i for i, m in enumerate(mentions) if m.label == "DRUG"]
    factors = [i for i, m in enumerate(mentions) if m.label in GENETIC]
    for d in drugs:
        for f in factors:
            s = signals(sentence, mentions[d], mentions[f])
            relations.append(
                RelationMention(
                    head=d, tail=f, type=s.relation, confidence=confidence_of(s, mentions[f]),
                    negated=s.negated, hedged=s.hedged,
                )
            )
    return relations
