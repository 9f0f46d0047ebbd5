"""What a sentence tells a prescriber to do: the one reader of action and severity words.

Why: the prescribing check, the answerer and the knowledge layer all need to know whether a
sentence says avoid, choose another drug, change the dose, test first or monitor. They read it
here, from one vocabulary of cue patterns, so a cue fixed once is fixed for every consumer.

Two readings of the same cues, for two jobs:
- `read_action` is a verdict (check, knowledge): one action class with a severity, strict about
  what counts as "avoid" (an interaction- or organ-conditioned contraindication is not one) and
  aware of the label section and the source.
- `action_of` is a ranking cue (qa): which of the retrieved sentences is most actionable, so it
  takes looser words ("avoid" anywhere, "test ... before") and needs no section.
Both are pure: the same sentence always reads the same. `looks_like_table` is the one test for a
table flattened into a "sentence", which neither reading can trust.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pgxlit.sections import CRITICAL_SECTIONS, FDA_LABEL, WARNING_SECTIONS

# ---- cues of the verdict reading ------------------------------------------------------------------
AVOID = re.compile(
    r"\bcontraindicated\b|\bshould not (?:be )?(?:use|used|take|taken|receive|given|prescribed|administered|start|initiat)"
    r"|\bdo not (?:use|take|prescribe|administer|initiate|start|give|restart|reinitiate)\b|\bmust not\b"
    r"|\b(?:is|are) not recommended\b|\bnot (?:be )?recommended for\b|\bavoid (?:use|the use|using|prescribing)\b"
    r"|\bshould be avoided\b|\bnever (?:restart|use|take)\b|\bconsider avoiding\b"
    r"|\b(?:is|are) (?:generally )?not (?:generally )?recommended\b|\bnot recommended (?:in|for)\b",
    re.I,
)
NOT_CONTRAINDICATED = re.compile(r"\bnot contraindicated\b", re.I)
# "not recommended" whose subject is a test or a dose change ("Screening is generally not
# recommended in ...", "dose adjustment is not recommended"): no instruction to avoid the drug.
_NOT_RECOMMENDED = re.compile(r"\bnot (?:be )?(?:generally )?recommended\b", re.I)
_NOT_RECOMMENDED_OTHER = re.compile(
    r"\b(?:screen\w*|test\w*|genotyp\w*|typing|monitoring|(?:dose|dosage|dosing)(?: \w+)?|adjustments?|reductions?"
    r"|increases?|titration)\s+(?:\w+\s+){0,3}?(?:is|are|was|were)?\s*(?:generally\s+|usually\s+)?not (?:be )?"
    r"(?:generally )?recommended\b",
    re.I,
)


def states_avoid(text: str) -> bool:
    """The sentence tells a prescriber not to use the drug: "contraindicated", "should not be used",
    "avoid use", "is not recommended in ..." (a test or a dose change not recommended is no such
    instruction, nor is "not contraindicated")."""
    if NOT_CONTRAINDICATED.search(text):
        return False
    for m in AVOID.finditer(text):
        if not _NOT_RECOMMENDED.search(m.group(0)):
            return True
        if not _NOT_RECOMMENDED_OTHER.search(text[max(0, m.start() - 60):m.end() + 12]):
            return True
    return False
ALTERNATIVE = re.compile(
    r"\b(?:consider|use|choose|select|prescribe)\b[^.;]{0,40}\b(?:another|an? alternative|alternative|other)\b"
    r"|\balternative (?:therap|treatment|agent|drug|medication)|\binstead of\b",
    re.I,
)
DOSE = re.compile(
    r"\b(?:reduce|reduced|lower|lowest|decrease|increase|adjust|adjusted|titrate)\b[^.;]{0,40}\b(?:dose|doses|dosage|dosing)\b"
    r"|\b(?:dose|dosage|dosing) (?:reduction|adjustment|modification|change)s?\b"
    r"|\b(?:starting|initial|maintenance|maximum|recommended) (?:daily )?(?:dose|dosage)\b"
    r"|\b\d+(?:\.\d+)?\s?(?:-|to)?\s?\d*(?:\.\d+)?\s?mg\b|\bdose requirements?\b",
    re.I,
)
# What makes an abstract's sentence a dose change: a change or requirement of dose, not a dose amount
# ("treated with simvastatin 40 mg daily" describes a study arm)
DOSE_CHANGE = re.compile(
    r"\b(?:reduce|reduced|lower|lowest|decrease|decreased|increase|increased|higher|adjust|adjusted|titrate)\b[^.;]{0,40}"
    r"\b(?:dose|doses|dosage|dosing)\b|\b(?:dose|dosage|dosing) (?:reduction|adjustment|modification|change|escalation)s?\b"
    r"|\bdose requirements?\b|\b(?:requir\w*|need\w*)\b[^.;]{0,40}\b(?:dose|doses|dosage|reduction|increase|decrease)s?\b",
    re.I,
)
# "observe" as an instruction ("observe patients", "should be observed for"), not a finding ("was observed in")
MONITOR = re.compile(r"\bmonitor|\bclosely\b|\bobserve\b|\bobserved? for\b|\bwatch for\b|\bwith caution\b|\bcaution\b"
                     r"|\bcareful", re.I)
NO_ACTION = re.compile(
    r"\bno (?:dose|dosage|dosing) (?:adjustment|change|modification)s? (?:is |are )?(?:necessary|needed|required|recommended)"
    r"|\b(?:dose|dosage|dosing) (?:adjustment|change|modification|reduction)s? (?:is |are )?not (?:necessary|needed|required|recommended)"
    r"|\bnot necessary to adjust\b|\bno (?:clinically )?(?:significant|relevant|meaningful) (?:difference|effect|change)"
    r"|\bsimilar (?:siponimod |drug )?exposure\b",
    re.I,
)
TESTING = re.compile(
    r"\btests? (?:are|is) available\b|\bscreen(?:ed|ing)? (?:for|all|patients)|\bshould be screened\b|\btest(?:ing)? "
    r"(?:for|patients)\b|\bgenotype determination\b|\btyping\b|\btest is (?:positive|negative)\b|\bprior to (?:initiating|starting)\b",
    re.I,
)
BACKGROUND = re.compile(
    r"\bprevalence\b|\bfrequenc(?:y|ies)\b|\bapproximately \d+\s?% of\b|\bis present in\b|\bfound almost exclusively\b"
    r"|\blargely absent\b|\bare termed\b|\bhave one but not two\b|\bhave at least one\b|\bcarried by more than\b",
    re.I,
)
# A contraindication that holds only with something else: another drug ("PMs taking a strong CYP3A
# inhibitor") or an organ impairment ("IMs and PMs ... with any degree of hepatic impairment").
INTERACTION = re.compile(r"\btaking (?:a |an )?(?:strong|moderate|potent|weak)\b|\b(?:strong|moderate|potent) "
                         r"(?:or moderate )?CYP\w*\s+(?:inhibitor|inducer)|\bconcomitant(?:ly)?\b"
                         r"|\b(?:hepatic|renal) impairment\b", re.I)
STUDY = re.compile(r"\bstud(?:y|ies)\b|\bsubjects\b|\btrials?\b|\bwas observed\b|\bwere observed\b|\bevaluated\b", re.I)

VERDICTS = ("avoid", "alternative", "dose change", "monitor", "no action")
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True, slots=True)
class Reading:
    """What an evidence sentence tells a prescriber: the action, how strongly, and how bad."""

    action: str  # one of VERDICTS
    strength: int  # 5 avoid, 4 alternative, 3 dose, 2 monitor, 1 no action, 0 association, -1 background/testing
    severity: str  # one of SEVERITIES


def read_action(sentence: str, section: str | None, effect: str, source: str) -> Reading:
    """The action class of one evidence sentence, given its label section, effect and source."""
    text = " ".join(sentence.split())
    in_label = source == FDA_LABEL
    if NO_ACTION.search(text):
        reading = Reading("no action", 1, "info")
    elif states_avoid(text):
        reading = Reading("avoid", 5, "critical")
    elif ALTERNATIVE.search(text) and not BACKGROUND.search(text):
        reading = Reading("alternative", 4, "critical" if in_label and section in CRITICAL_SECTIONS else "warning")
    elif in_label and section == "contraindications" and not TESTING.search(text):
        reading = Reading("avoid", 5, "critical")
    elif (DOSE if in_label else DOSE_CHANGE).search(text) \
            and (effect == "dosage" or section == "dosage_and_administration" or "dos" in text.lower()) \
            and not STUDY.search(text):
        reading = Reading("dose change", 3, "warning")
    elif MONITOR.search(text) and not TESTING.search(text):
        reading = Reading("monitor", 2, "warning")
    elif TESTING.search(text) or BACKGROUND.search(text):
        reading = Reading("monitor", -1, "info")
    else:
        severe = effect == "toxicity" and in_label and section in WARNING_SECTIONS
        reading = Reading("monitor", 0, "warning" if severe else "info")
    if reading.action == "avoid" and INTERACTION.search(text):
        reading = Reading("monitor", 2, "warning")
    if not in_label and reading.severity != "info":  # literature supports; it does not raise alarms alone
        reading = Reading(reading.action, reading.strength, "info")
    return reading


def mentions_testing(sentence: str) -> bool:
    """The sentence speaks of a genetic test (available, screening, typing, before starting)."""
    return bool(TESTING.search(sentence))


def is_background(sentence: str) -> bool:
    """Population background (prevalence, allele frequencies), not a recommendation."""
    return bool(BACKGROUND.search(sentence))


# ---- cues of the ranking reading ----------------------------------------------------------------------
# Most actionable first: the order a pharmacist needs them in.
RANKED_ACTIONS: tuple[tuple[str, int, re.Pattern[str]], ...] = (
    ("contraindication", 4, re.compile(
        r"\bcontraindicated\b|\bdo not (?:use|prescribe|administer|initiate|start|restart|re-?challenge)\b"
        r"|\bshould not (?:be )?(?:used|given|administered|prescribed|restarted|take)\b|\bavoid\b|\bnever restart\b"
        r"|\b(?:is|are) not recommended (?:in|for)\b",
        re.I)),
    ("test before use", 3, re.compile(
        r"\b(?:screen\w*|test\w*|genotyp\w*|determine|assess\w*)\b[^.]{0,80}\b(?:before|prior to)\b"
        r"|\b(?:before|prior to) (?:initiating|starting|prescribing|initiation|beginning|treatment)\b", re.I)),
    ("dose change", 2, re.compile(
        r"\b(?:dose|dosage|dosing|mg)\b[^.]{0,80}\b(?:reduc\w*|lower\w*|decreas\w*|adjust\w*|increas\w*|maximum|"
        r"not exceed|start\w*|titrat\w*|recommended)\b|\b(?:reduc\w*|lower|adjust\w*|maximum|initial|starting)\b"
        r"[^.]{0,40}\b(?:dose|dosage)\b",
        re.I)),
    # an instruction to choose another drug, not a list that ends "among other drugs"
    ("alternative", 2, re.compile(
        r"\balternative\b|\b(?:use|consider|choose|select|switch\w*|prescrib\w*|chang\w*|recommend\w*)\b[^.]{0,40}"
        r"\b(?:another|other)\b[^.]{0,40}\b(?:inhibitor|drug|treatment|therap\w*|agent|medication|antiplatelet)",
        re.I)),
    # "observe" as an instruction ("observe patients", "observed for"), not a finding ("were observed")
    ("monitor", 1, re.compile(r"\bmonitor\w*\b|\bobserve\b|\bobserved? (?:for|closely)\b|\bclose(?:ly)? watch", re.I)),
)


def action_of(sentence: str) -> tuple[str | None, int]:
    """The most actionable cue of a sentence and its ranking weight; (None, 0) when it has none."""
    for name, weight, pattern in RANKED_ACTIONS:
        if pattern.search(sentence):
            return name, weight
    return None, 0


# ---- tables flattened into sentences --------------------------------------------------------------------
_TABLE_MARK = re.compile(r"^(?:Table|Figure)\s+\d|\|")


def looks_like_table(sentence: str, *, quote: bool = False) -> bool:
    """A table or figure flattened into a "sentence", unreadable as what its reader needs.

    As a recommendation (check, knowledge): a dose grid ("GG 5-7 mg 5-7 mg 3-4 mg ...") or a run of
    numbers; a caption running into the rule that follows it, or an allele list ("CYP2C9*1/*3,
    *2/*3"), still states the rule. As a quote shown in an answer (`quote`): a table or figure
    caption, a cell rule, or text more than 15% digits. The two criteria are each consumer's own
    (measured on the demo store: either one applied to the other consumer changes the reading
    of 249 of the check's 4,340 triples or of 455 sentences of stored passages), so both are kept until one is measured
    against both consumers' figures.
    """
    digits = sum(ch.isdigit() for ch in sentence)
    if quote:
        return bool(_TABLE_MARK.search(sentence)) or digits > 0.15 * len(sentence)
    return len(re.findall(r"\bmg\b", sentence)) >= 4 or digits > 60


# ---- what a dose change says, and how strongly a label asks for a test -------------------------------------
_DOSE_STATED = re.compile(
    r"\b(?:reduc\w*|decreas\w*|lower\w*)\b[^.;]{0,40}?\bby\s+(?:at least\s+|approximately\s+|about\s+)?(\d+(?:\.\d+)?\s?%)"
    r"|\b(\d+(?:\.\d+)?\s?%|one[- ]half|half|one[- ]third|two[- ]thirds|one[- ]quarter)\s+of\s+the\s+"
    r"(?:usual|normal|standard|recommended|starting|initial|full)?\s*(?:starting\s+)?dose"
    r"|\b(?:maximum|max\.?|starting|initial|recommended)\s+(?:daily\s+|single\s+)?dos(?:e|age)\s+(?:is|of|should not exceed)\s+"
    r"(\d+(?:\.\d+)?\s?mg(?:/kg|/m2|/day)?(?:\s+(?:once|twice|three times)\s+daily)?)"
    r"|\b(\d+(?:\.\d+)?\s?mg(?:/kg|/m2|/day)?\s+(?:once|twice|three times)\s+(?:daily|a day))"
    r"|\b(?:dose|dosage) reduction (?:of|by) (?:at least |approximately |about )?(\d+(?:\.\d+)?\s?%)",
    re.I,
)


def stated_dose(sentence: str) -> str | None:
    """The dose or fraction a sentence states for a dose change ("50%", "one-half of the starting dose"
    -> "one-half", "25 mg once daily"), or None: the text's own figure, never one we compute."""
    m = _DOSE_STATED.search(" ".join(sentence.split()))
    if not m:
        return None
    return next(g for g in m.groups() if g).strip()


TESTING_REQUIRED = re.compile(
    r"(?:^|[.;:•]\s*|\b(?:and|then)\s+)(?:screen|test|genotype)\s+(?:all\s+)?(?:patients|for|the)\b"
    r"|\bshould be (?:screened|tested|genotyped)\b|\bmust be (?:screened|tested|genotyped)\b"
    r"|\b(?:testing|screening|genotyping|genetic test\w*) (?:is|are) (?:required|necessary|mandatory)\b"
    r"|\bprior to initiating\b[^.;]{0,40}\b(?:screen|test|genotyp)\w*\b(?:[^.;]{0,20}\b(?:is|are) required)",
    re.I,
)
TESTING_RECOMMENDED = re.compile(
    r"\bconsider(?:ing)? (?:genetic |genotype |pharmacogenetic )?(?:testing|genotyping|screening|test(?:ing)? for)\b"
    r"|\b(?:testing|screening|genotyping) (?:is|are|may be|should be) (?:recommended|considered|advised)\b"
    r"|\bshould consider (?:testing|genotyping|screening)\b|\brecommend(?:s|ed)? (?:testing|genotyping|screening)\b",
    re.I,
)
TESTING_LEVELS = ("required", "recommended", "actionable", "informative")
_TESTING_USEFUL = re.compile(
    r"\b(?:screening|testing|genotyping|test)\b[^.;]{0,120}?\b(?:should|could|may|might|can)\b[^.;]{0,20}?"
    r"\b(?:be (?:used|considered|recommended|useful|helpful|performed)|identify|help|guide|improve|prevent|reduce|avoid)\b",
    re.I,
)


def recommends_testing(sentence: str) -> bool:
    """The sentence asks for or commends a genetic test ("should be screened", "consider testing",
    "screening for UGT1A1*28 may identify patients at risk"), not a study's own genotyping
    ("volunteers screened for SLCO1B1 c.521T>C", "test for trend")."""
    text = " ".join(sentence.split())
    return bool(TESTING_REQUIRED.search(text) or TESTING_RECOMMENDED.search(text) or _TESTING_USEFUL.search(text))


def testing_level(label_sentences: list[str], actionable: bool) -> str:
    """How strongly a label asks for a genetic test, from its own wording: "Screen for HLA-B*5701 prior
    to initiating" is required, "Consider testing for DPYD variants" recommended; a label that changes
    what to do by result without asking for a test is actionable; else informative."""
    text = [" ".join(s.split()) for s in label_sentences]
    if any(TESTING_REQUIRED.search(s) and not TESTING_RECOMMENDED.search(s) for s in text):
        return "required"
    if any(TESTING_RECOMMENDED.search(s) for s in text):
        return "recommended"
    return "actionable" if actionable else "informative"
