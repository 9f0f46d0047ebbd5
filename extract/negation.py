"""Does a sentence deny a drug–factor pair? The scope of its negation cues.

A negation word in a sentence denies a pair only when it negates what links the two: "CYP3A5 genotype
was not associated with tacrolimus nephrotoxicity". Many negations in PGx text say something else, and a
triple read from them as "not associated" tells a curator the opposite of the text:

- they describe the factor or an effect: "no function allele", "little or no TPMT activity", "patients
  who do not express CYP2D6", "O-desmethyl gefitinib was not measurable", "no response to platinum";
- they say who was studied or treated: "patients who did not have known G6PD deficiency", "CYP2D6
  normal metabolizers not receiving CYP2D6 inhibitors", "with or without telaprevir", "if the
  genotypes are not known";
- they belong to another mention of a contrast: "response to irbesartan, but not to atenolol";
- they say what is unknown, untested or unavailable, or that a list is partial: "not well established",
  "no pharmacokinetic data available", "a test ... is not currently available", "not a complete listing";
- they are instructions: "Do not administer", "should not exceed", "not recommended";
- they state a failed effect as a risk: "may not be effective in patients with G6PD deficiency".

`denial` sets those aside and asks whether a negation cue is left in the pair's own clause; the sentence's
mentions tell which ones a contrast's "not" lists ("but not CYP2B6, CYP2C9, nor CYP3A7"). The clause
is the relation rules' clause (from the last clause break before the pair to the end of the word 40
characters after it), cut at a clause break after the pair and started after a concessive clause that
ends before the pair ("Although none of ..., a set of rare variants ..."). A result that is not
significant is always a denial. The relation model's features keep the plain clause cue
(`relations.PairSignals.negated`), which it was trained with.

`factor_negated` is the study's wider denial, read for abstracts only: "none of ..." (but not "except for
X") and a factor governed by "irrespective / regardless / independent of".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from pgxlit.records import Mention

__all__ = ["CUE_WORDS", "clause_bounds", "denial", "factor_negated", "triple_negated"]

CUE_WORDS = r"\b(no|not|neither|nor|without|absence of|lack of|failed to|unlikely|n't)\b"
_CUES = re.compile(CUE_WORDS, re.IGNORECASE)
_CUES_LOWER = re.compile(CUE_WORDS)  # on lowercased text: an alternation of words runs several times faster
# The relation rules' clause breaks (relations._CLAUSE_BREAK), but for "but not": "In liver, but not kidney transplant
# patients, ..." is a contrast inside the clause, not the start of a new one.
_BREAK = re.compile(r"[;:]|\bwhereas\b|\bbut\b(?!\s+not\b)|\bhowever\b", re.IGNORECASE)
_CONCESSIVE = re.compile(r"\b(?:although|though|while)\b(?!\s+not\b)", re.IGNORECASE)  # "although not X," is a contrast
_TAIL = 40

# A negation that is part of an instruction, or of "not (yet) studied", denies nothing: "Do not administer KRYSTEXXA
# to patients with G6PD deficiency" is a contraindication, "the daily dose should not exceed 36 mg" a limit, "has
# not been studied in PMs" leaves the effect open.
_INSTRUCTION = (
    r"\b(?:do|does)\s+not\s+(?:administer|use|take|give|prescribe|start|initiate|exceed|breastfeed|restart|"
    r"re-?challenge|co-?administer)\w*"
    r"|\b(?:should|must|shall)\s+not\b"
    r"|\bnot\s+(?:to\s+)?(?:be\s+)?(?:\w+ly\s+)?(?:recommended|exceed\w*|administered|prescribed|breastfeed\w*)\b"
    r"|\bnot\s+to\s+(?:take|use|receive|start|drive)\b"
)
_UNSTUDIED = (
    r"\bnot\s+(?:yet\s+|been\s+|systematically\s+|formally\s+|well\s+|fully\s+|adequately\s+){0,3}"
    r"(?:studied|evaluated|established|investigated|assessed|elucidated|understood|clear|explained|characteri[sz]ed)\b"
    r"|\bnot\s+(?:yet\s+|fully\s+|well\s+)?known\b(?!\s+to\b)"
    r"|\bno\s+(?:\w+\s+){0,2}(?:data|information|studies)\b"
    r"|\bnot\s+(?:currently\s+|yet\s+|commercially\s+|widely\s+|routinely\s+)?available\b"
    r"|\bnot\s+(?:been\s+)?(?:tested|genotyped|screened)\b"
    r"|\b(?:testing|screening|genotyping)\s+(?:was|were|is|are|has|have)\s+(?:\w+\s+)?not\s+(?:been\s+)?"
    r"(?:performed|done|conducted|undertaken|carried\s+out|available|possible|feasible)\b"
)
_INSTRUCTION_NOT = re.compile(_INSTRUCTION + "|" + _UNSTUDIED, re.IGNORECASE)

# Words that say what is measured, not that a measure differs: "no effect on CYP3A4 activity" keeps its denial.
_MEASURE_WORDS = (r"(?!(?:on|of|in|with|between|to|for|by|effects?|associations?|differences?|changes?|influence|"
                  r"impact|correlation|relationship|significant\w*|detectable|measurable)\b)")
# "may not be effective", "can not achieve": a failed effect; "may not be reduced by X" is a passive denial and stays.
_FAILED = r"(?:be\s+(?:effective|possible)|achieve|attain|reach|reduce|respond|benefit|work|convert|produce)\b"
_NOT_A_DENIAL = re.compile(
    "|".join((
        # the factor or an effect described
        r"\bno(?:n|t)?[\s-]*function\w*",
        r"\blittle\s*(?:or|-?\s*to\s*-?)\s*no\b(?!\s+(?:\w+\s+)?(?:effects?|influence|impact|associations?|"
        r"differences?|changes?|role|correlation|relationship|contribution)\b)",
        r"\b(?:no|lack\s+of|absence\s+of|loss\s+of)\s+(?:the\s+)?(?:" + _MEASURE_WORDS + r"[\w-]+\s+){0,2}?"
        r"(?:activity|function|expression|enzyme|protein|[\w-]*metabolites?)\b",
        r"\b(?:do|does|did)\s+not\s+express\w*|\bnot\s+expressing\b",
        r"\bnot\s+(?:measurable|detectable|quantifiable)\b",
        r"\b(?:or|carrying|carry|carried|with|having|had)\s+no\s+(?:[\w*-]+\s+)?(?:alleles?|copies|variants?)\b",
        r"\b(?:completely\s+)?no\s+(?:(?:clinical|therapeutic|virologic(?:al)?|treatment)\s+)?response\b",
        # who was studied or treated
        r"\bwho\s+(?:\w+\s+)?(?:do|does|did|were|was|are|is|had|have|has)\s*(?:not|n't)\b",
        r"\b(?:not|never)\s+(?:carrying|having|harbou?ring|taking|receiving|treated\s+with|exposed\s+to)\b",
        r"\b(?:patients|subjects|individuals|people|carriers|those|volunteers|children|adults|women|men)\s+(?:without|not)\b",
        r"\b(?:taking|receiving|using)\s+no\b",
        r"\b(?:or|and)\s+without\b",
        r"\bwithout\s+(?:[\w*:/-]+\s+){0,3}?(?:testing|screening|genotyping|consideration|compromising|regard)\b",
        r"\b(?:whether\s+)?or\s+not\b",
        r"\bnot\s+of\s+(?:\w+\s+){1,2}(?:origin|ancestry|descent)\b",
        r"\b(?:even\s+)?(?:if|unless)\s+(?:[\w'’*-]+\s+){0,8}?(?:no|not)\b",
        # a partial list or a statement that is no negation
        r"\bnot\s+(?:\w+\s+)?all\b",
        r"\bnot\s+(?:a\s+)?(?:complete|comprehensive|exhaustive)\b",
        r"\bnot\s+(?:only|just|merely|surprising\w*|unexpected\w*)\b",
        # a failed effect stated as a risk
        r"\b(?:may|might|could|can|will|would)\s*(?:not|n't)\s+" + _FAILED,
        r"\bcannot\s+" + _FAILED,
        r"\bnot\s+(?:been\s+)?(?:proven|shown|established|considered)\s+(?:to\s+be\s+)?safe\b",
        r"\bno\s+(?:\w+\s+){1,3}(?:has|have)\s+been\s+(?:proven|shown|established)\s+(?:to\s+be\s+)?safe\b",
        r"\bto\s+(?:obtain|achieve|maintain|reach)\b[^,;.]{0,60}?\bwithout\b",
    )),
    re.IGNORECASE,
)
# "but not X", "although not in the ticlopidine group", ", not ABCB1 genotype": the "not" contrasts the mentions
# listed right after it ("but not CYP2B6, CYP2C9, CYP2D6, CYP3A5, nor CYP3A7 polymorphisms") with the rest of the
# clause, so it denies a pair with one mention in that list and one outside, and no other pair.
_CONTRAST = re.compile(r"(?:\bbut|\balthough|\bthough|\byet|\band|,|\()\s*not\b(?!\s+(?:only|just)\b)", re.IGNORECASE)
_LIST_REACH = 60
# Between two items of the list: "CYP2B6, CYP2C9, ..., nor CYP3A7", "at OPRM1 and UGT2B7", "IL1RN, TNFA, or IL10"
# (a short item that is no mention may sit between); the list's kind (drug or not) ends it.
_LIST_GAP = re.compile(r"[\s,/]*(?:[\w-]+[\s,/]+){0,3}?(?:(?:and/or|and|or|nor)\s+)?(?:(?:at|in|of|to|for|with|on|either)\s+)?"
                       r"(?:the\s+)?", re.IGNORECASE)
_LIST_BREAK = re.compile(
    r"[;:.()\[\]]|\b(?:is|are|was|were|be|been|did|does|do|has|have|had|showed?|can|could|may|might|will|would|"
    r"should)\b", re.IGNORECASE)
# A result that is not significant is denied, whatever wording around it would otherwise be set aside ("even if it was
# not significant", "though not achieving the significance level", "but failed to reach statistical significance").
_NOT_SIGNIFICANT = re.compile(
    r"\b(?:no|not|failed\s+to)\s+(?:[\w-]+\s+){0,2}?(?:statistical(?:ly)?\s+)?significan\w*",
    re.IGNORECASE)
_GOVERNS_FACTOR = re.compile(r"\b(?:absence\s+of|lack\s+of|without)\s+(?:the\s+|a\s+|an\s+|any\s+)?$", re.IGNORECASE)
# After the pair its clause also ends where a comment on something else begins (", which is not offset by ...").
_TAIL_BREAK = re.compile(_BREAK.pattern + r"|,\s+(?:which|who)\b", re.IGNORECASE)

# "None of the ABCB1 polymorphisms ..." negates its clause. "Irrespective of ABCB1 genotype" negates only the factor it
# governs: not a clause adjusted for something else ("associated with dose, independent of sex"), nor an effect it
# keeps ("independent of the influence of CYP2C9*2"). "except for rs1800544" takes its factor out of "none of".
_REGARDLESS = re.compile(
    r"\b(?:irrespective|regardless|independent(?:ly)?)\s+of\s+(?!(?:the\s+)?(?:influence|effects?|impact)\b)",
    re.IGNORECASE)
_EXCEPT = re.compile(r"\b(?:except(?:\s+for)?|with\s+the\s+exception\s+of|apart\s+from|other\s+than)\s+", re.IGNORECASE)
_GOVERN_REACH = 60
_PHRASE_BREAK = re.compile(r"[,;:.]")
_NONE_OF = re.compile(r"\bnone of\b", re.IGNORECASE)
_GOVERNING_WORDS = re.compile(r"none of|irrespective|regardless|independent")  # lowercased text


def clause_bounds(sentence: str, a: Mention, b: Mention) -> tuple[int, int]:
    """Where the pair's own clause starts and ends (see the module's docstring)."""
    lo, hi = sorted((a, b), key=lambda m: m.start)
    start = max((m.end() for m in _BREAK.finditer(sentence, 0, lo.start)), default=0)
    for m in _CONCESSIVE.finditer(sentence, start, lo.start):
        comma = sentence.find(",", m.end(), lo.start)
        if comma != -1:
            start = comma + 1
    end = min(len(sentence), hi.end + _TAIL)
    while end < len(sentence) and sentence[end].isalnum():
        end += 1  # a whole word: "many normal" cut to "many no" read as a negation
    stop = _TAIL_BREAK.search(sentence, hi.end, end)
    if stop and _NOT_SIGNIFICANT.search(sentence, stop.end(), min(len(sentence), stop.end() + 2 * _TAIL)):
        stop = None  # "..., but the difference was not significant" is about the same pair
    return start, stop.start() if stop else end


def _blanked(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for s, e in spans:
        chars[max(0, s):max(0, e)] = " " * (max(0, e) - max(0, s))
    return "".join(chars)


@lru_cache(maxsize=4096)
def _lowered(sentence: str) -> str:
    return sentence.lower()


def _has_cue(text: str) -> bool:
    """Any negation cue at all (the fast path: most sentences have none and most pairs need nothing more)."""
    return _CUES_LOWER.search(text) is not None


def _contrasted(sentence: str, after: int, mentions: Sequence[Mention]) -> list[Mention]:
    """The mentions listed right after a contrast's "not": the first within reach with no break before it, then
    those of its kind (drug or not) that follow it, each joined to the one before by list words only."""
    listed: list[Mention] = []
    edge = after
    for m in sorted(mentions, key=lambda m: (m.start, -m.end)):
        if m.start < after or m.label == "DISEASE" or (m.source == "model" and m.label == "PHENOTYPE"):
            continue  # a drug response or a disease ("response to either fluoxetine", "kidney transplant") is no item
        if listed and m.start < listed[-1].end:  # nested in the last one ("ADRB1" in "ADRB1 Ser49Ser")
            listed.append(m)
            continue
        gap = sentence[edge:m.start]
        if not listed and (len(gap) > _LIST_REACH or _LIST_BREAK.search(gap) or "," in gap):
            break  # "In liver, but not kidney transplant patients, ABCB1 ...": the list ended before ABCB1
        if listed and (len(gap) > _LIST_REACH // 2 or _LIST_BREAK.search(gap) or not _LIST_GAP.fullmatch(gap)
                       or (m.label == "DRUG") != (listed[0].label == "DRUG")):
            break
        listed.append(m)
        edge = m.end
    return listed


def denial(sentence: str, a: Mention, b: Mention, mentions: Sequence[Mention] = ()) -> bool:
    """Is there a negation in the pair's own clause that denies the pair? `mentions`: the sentence's mentions,
    for the lists a contrast's "not" names (without them only the pair's own two are seen)."""
    if not _has_cue(_lowered(sentence)):
        return False
    start, end = clause_bounds(sentence, a, b)
    clause = sentence[start:end]
    if not _has_cue(clause.lower()):
        return False
    if _NOT_SIGNIFICANT.search(clause):  # "did not reach significance" denies whatever else the clause says
        return True
    # The phrases set aside are read a little past the clause's end: "or a no function DPYD variant" cut after "no".
    own = sentence[start:min(len(sentence), end + _TAIL)]
    spans = [(m.start(), m.end()) for pattern in (_INSTRUCTION_NOT, _NOT_A_DENIAL) for m in pattern.finditer(own)]
    pair = {(a.start, a.end), (b.start, b.end)}
    for m in _CONTRAST.finditer(clause):
        listed = _contrasted(sentence, start + m.end(), mentions or (a, b))
        if len(pair & {(x.start, x.end) for x in listed}) != 1:  # the list's own "nor" goes with it
            spans.append((m.start(), max([m.end()] + [x.end - start for x in listed])))
    for x in (a, b):  # "the absence of TYMS 1494 del6", "without HLA-B*5701": a genotype group, not a denial
        if x.label != "DRUG" and start <= x.start:
            g = _GOVERNS_FACTOR.search(sentence, max(start, x.start - 40), x.start)
            if g is not None:
                spans.append((g.start() - start, g.end() - start))
    return bool(_CUES.search(_blanked(own, spans), 0, len(clause)))


def _governed(pattern: re.Pattern[str], sentence: str, factor: Mention) -> bool:
    """Is the factor the object of `pattern`'s phrase (within a short phrase before it)?"""
    for m in pattern.finditer(sentence, max(0, factor.start - _GOVERN_REACH - 30), factor.start):
        gap = sentence[m.end():factor.start]
        if len(gap) <= _GOVERN_REACH and not _PHRASE_BREAK.search(gap):
            return True
    return False


def factor_negated(sentence: str, drug: Mention, factor: Mention) -> bool:
    """Does "none of ..." deny the pair's clause, or "irrespective / regardless / independent of" govern its factor?"""
    if not _GOVERNING_WORDS.search(_lowered(sentence)):
        return False
    start, end = clause_bounds(sentence, drug, factor)
    factors = [m for m in (drug, factor) if m.label != "DRUG"]  # the pair may come factor first
    if _NONE_OF.search(sentence, start, end) and not any(_governed(_EXCEPT, sentence, m) for m in factors):
        return True
    return any(_governed(_REGARDLESS, sentence, m) for m in factors)


def triple_negated(sentence: str, drug: Mention, factor: Mention, mentions: Sequence[Mention], study: bool) -> bool:
    """A triple's `negated`: its sentence denies the pair; in a study's abstract (`study`) also "none of" and
    "irrespective of X genotype". In a label "regardless of HLA-B*5701 status, discontinue" is an instruction that
    holds for everyone, not a denied association."""
    return denial(sentence, drug, factor, mentions) or (study and factor_negated(sentence, drug, factor))
