"""A linear-chain CRF tagger for a gold corpus's own entity scheme (BioRED's four types).

Re-typing pgxlit's mentions (`pgxcorpus_types.FineTyper`) cannot find a span no rule or model
proposed, and BioRED's edges are its own ("BRCA1-associated" is cut at the hyphen). This
tagger reads every token of an abstract and labels it B-/I-<type>/O, the way BANNER and
tmVar do: a CRF over word, shape, affix and context features, plus what pgxlit already
knows as features: the rule mentions (drug and gene lexicons, variant and allele grammars,
abbreviation short forms, extract/pipeline.py) as BIO tags with their label and kind,
the abbreviation long forms scispaCy finds (extract/abbreviations.py), and, when a model
was trained with them, the small NER's mentions (source "model"). Three more families, each
behind a flag of `CrfSettings` that the model's meta.json records (a flag it lacks is off, so
an older model computes exactly its old features): distributional word classes from MiniLM's
input embeddings (extract/word_clusters.py), longer affixes and name morphology, and what the
same word does elsewhere in the abstract; and a fourth, the predictions of a small classifier over
MiniLM's contextual token vectors (extract/context_features.py, `context_classifier`; on the
held-back fifth with the second pass 0.8028 reading layer 3, 0.8085 reading layers 2, 4 and 6, vs
0.7992 without: under the +0.01 asked for, so no shipped model uses it yet); and a fifth, the
per-token probabilities of a fine-tuned MiniLM token tagger (extract/token_tagger.py,
`token_tagger`: the name of its model folder beside the CRF's; held-back fifth with the second
pass 0.8125 vs 0.7992, test 0.788 vs 0.759: the shipped biored_crf reads biored_tagger).

Tokens split at every non-word character and between words (`TOKEN_PATTERN`): 70 of 33,768
BioRED DEV edges fall inside one (0.2 %; "rDEN2Delta30", "KrasG12D"). Trained on the BioRED
DEV train fold only by ``python tools/train_crf_ner.py --scheme biored``; the weights are
derived from BioRED (research use) and the model folder holds the settings and figures
(meta.json). CRFsuite's L-BFGS is deterministic for the same data and settings.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pgxlit.extract.context_features import CONTEXT_FILE, ContextClassifier, context_feature_lists, token_vectors
from pgxlit.extract.pgxcorpus_types import TokenStarts as _Starts
from pgxlit.extract.word_clusters import WordClusters, load_clusters
from pgxlit.records import Mention
from pgxlit.shipped import shipped

__all__ = [
    "TOKEN_PATTERN",
    "MODEL_FILE",
    "SECOND_PASS_FILE",
    "abbreviation_pairs",
    "second_pass_features",
    "GAZETTEER_FILE",
    "TAGGER_PREFIX",
    "CrfSettings",
    "Gazetteer",
    "CrfTagger",
    "build_command",
    "default_model_dir",
    "doc_features",
    "features_for",
    "load_tagger",
    "shipped_tagger",
    "spans_of",
    "tags_of",
    "tokens_of",
]

TOKEN_PATTERN = r"\w+|[^\w\s]"
MODEL_FILE = "model.crfsuite"
SECOND_PASS_FILE = "second_pass.crfsuite"
GAZETTEER_FILE = "gazetteer.json"
TAGGER_PREFIX = "tt"  # feature prefix of the token tagger's probabilities (context_features.context_feature_lists)
_TOKEN = re.compile(TOKEN_PATTERN)
OUTSIDE = "O"


def tokens_of(text: str) -> list[tuple[int, int]]:
    """Character offsets of the tagger's tokens: runs of word characters and single other marks."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def default_model_dir(scheme: str = "biored") -> Path:
    """``corpora/models/<scheme>_crf`` of the checkout or of the installed package."""
    return shipped(f"models/{scheme}_crf", "meta.json")


def build_command(scheme: str) -> str:
    return f"python tools/train_crf_ner.py --scheme {scheme} --shared ../shared --out corpora/models/{scheme}_crf"


# ---- features ---------------------------------------------------------------------------


def _shape(word: str, short: bool) -> str:
    s = re.sub(r"[A-Z]", "A", word)
    s = re.sub(r"[a-z]", "a", s)
    s = re.sub(r"[0-9]", "0", s)
    return re.sub(r"(.)\1+", r"\1", s) if short else s[:12]


@lru_cache(maxsize=200_000)
def _word_features(word: str) -> tuple[str, ...]:
    """What a token says by itself (cached: abstracts repeat their words)."""
    low = word.lower()
    f = [f"w={word}", f"lw={low}", f"sh={_shape(word, False)}", f"ss={_shape(word, True)}"]
    for k in (1, 2, 3, 4):
        if len(low) >= k:
            f += [f"p{k}={low[:k]}", f"s{k}={low[-k:]}"]
    if word.isdigit():
        f.append("digits")
    elif any(c.isdigit() for c in word):
        f.append("hasdigit")
    if word.isupper():
        f.append("upper")
    elif word[:1].isupper():
        f.append("title")
    if any(c.isupper() for c in word[1:]) and any(c.islower() for c in word):
        f.append("mixedcase")
    if not word[:1].isalnum() and word[:1] != "_":
        f.append("punct")
    f.append(f"len={min(len(word), 10)}")
    return tuple(f)


_GREEK = re.compile(r"[\u0391-\u03c9\u00b5]|alpha|beta|gamma|delta|epsilon|kappa|lambda|sigma|omega|theta", re.I)
_ROMAN = re.compile(r"(?:I|II|III|IV|V|VI|VII|VIII|IX|X|XI|XII)")
# general word-formation endings (INN stems of drug classes, chemical nomenclature, medical terms)
_CHEM_ENDINGS = ("ine", "ol", "ide", "ate", "one", "ium", "yl", "ene", "ane", "azole", "mab", "nib", "vir", "pril",
                 "sartan", "statin", "mycin", "cillin", "oxacin", "olol", "afil", "dipine", "parin", "tide", "zepam",
                 "azepine", "profen", "triptan", "tidine", "prazole", "gliptin", "platin", "rubicin", "taxel",
                 "fen", "in", "il", "an", "acid")
_DISEASE_ENDINGS = ("itis", "emia", "aemia", "oma", "osis", "pathy", "algia", "plasia", "trophy", "uria", "penia",
                    "cytosis", "ism", "ia", "sy", "order", "ease", "drome", "ency", "ure", "ion")
_GENE_ENDINGS = ("ase", "in", "or", "ogen", "kine", "globin")


@lru_cache(maxsize=200_000)
def _char_features(word: str) -> tuple[str, ...]:
    """Longer affixes and the morphology of names: chemical, disease and protein word endings,
    Greek letters, Roman numerals, letter-digit patterns (cached like `_word_features`)."""
    low = word.lower()
    f = [f"p5={low[:5]}", f"s5={low[-5:]}"] if len(low) >= 5 else []
    if len(low) >= 4:
        f += [f"chem_end={e}" for e in _CHEM_ENDINGS if low.endswith(e) and len(low) > len(e) + 2][:2]
        f += [f"dis_end={e}" for e in _DISEASE_ENDINGS if low.endswith(e) and len(low) > len(e) + 2][:2]
        f += [f"gene_end={e}" for e in _GENE_ENDINGS if low.endswith(e) and len(low) > len(e) + 2][:1]
    if _GREEK.search(word):
        f.append("greek")
    if _ROMAN.fullmatch(word):
        f.append("roman")
    if re.fullmatch(r"[A-Za-z]+\d+[A-Za-z]*\d*", word):
        f.append("alnum_mix")
    if re.fullmatch(r"[A-Z]\d+[A-Z]", word):
        f.append("aa_change")
    if len(word) == 1 and word.isalpha():
        f.append("single_letter")
    if re.fullmatch(r"[A-Z]{2,}\d*", word):
        f.append("acronym")
    return tuple(f)


def _chunk_features(chunk: str) -> list[str]:
    """What the chunk between spaces says about bracketing and joining ("(R)-warfarin", "5-FU")."""
    f = []
    if chunk.count("(") != chunk.count(")") or chunk.count("[") != chunk.count("]"):
        f.append("chunk_unbalanced")
    if "-" in chunk:
        f.append("chunk_hyphen")
    if any(c.isdigit() for c in chunk) and any(c.isalpha() for c in chunk):
        f.append("chunk_alnum")
    if "," in chunk.strip(",") or "'" in chunk:
        f.append("chunk_chem_punct")
    return f


def _doc_consistency(text: str, tokens: Sequence[tuple[int, int]], rules: Sequence[Sequence[str]]) -> list[list[str]]:
    """What the same word does elsewhere in the abstract: the rule labels it gets anywhere, whether it
    is ever written capitalised or in capitals, and how often it occurs (a term an abstract is about
    recurs)."""
    words = [text[s:e] for s, e in tokens]
    labels: dict[str, set[str]] = {}
    forms: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for w, r in zip(words, rules):
        low = w.lower()
        counts[low] = counts.get(low, 0) + 1
        labels.setdefault(low, set()).update(t.split("=", 1)[1][2:] for t in r if t.startswith("r=") and t[2] in "BI")
        forms.setdefault(low, set()).add("upper" if w.isupper() and len(w) > 1 else "title" if w[:1].isupper() else
                                         "lower" if w.islower() else "other")
    out = []
    for i, w in enumerate(words):
        low = w.lower()
        if not w[:1].isalnum():
            out.append([])
            continue
        f = [f"dr={lab}" for lab in sorted(labels[low])]
        f += [f"df={x}" for x in sorted(forms[low])]
        c = counts[low]
        f.append(f"dc={'1' if c == 1 else '2-3' if c <= 3 else '4+'}")
        out.append(f)
    return out


def _tags_at(tokens: Sequence[tuple[int, int]], mentions: Sequence[Mention], prefix: str) -> list[list[str]]:
    """Each token's features from the mentions that cover it: B-/I-<label>, the label and kind,
    and whether the mention's edges fall inside the token."""
    out: list[list[str]] = [[] for _ in tokens]
    starts = [s for s, _ in tokens]

    for m in mentions:
        k = max(0, bisect.bisect_right(starts, m.start) - 1)
        first = True
        while k < len(tokens) and tokens[k][0] < m.end:
            s, e = tokens[k]
            if e > m.start:
                tag = "B" if first else "I"
                out[k] += [f"{prefix}={tag}-{m.label}", f"{prefix}k={m.label}:{m.kind}"]
                if first and s != m.start or e > m.end:
                    out[k].append(f"{prefix}cut")
                if e >= m.end:
                    out[k].append(f"{prefix}=E-{m.label}")
                first = False
            k += 1
    return out


@lru_cache(maxsize=1)
def _abbreviation_nlp() -> Any:
    """scispaCy's abbreviation detector behind pgxlit's tokenizer (extract/pipeline.py), rules off."""
    from pgxlit.extract.pipeline import build_nlp

    return build_nlp(components=("sentencizer", "pgx_abbreviations"))


@lru_cache(maxsize=64)
def abbreviation_pairs(text: str) -> tuple[tuple[int, int, int, int], ...]:
    """(short start, short end, long start, long end) of every short form scispaCy links to a long form
    defined in the text ("hepatocyte nuclear factor (HNF)": every "HNF" points at its long form)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scispaCy: "the component 'matcher' does not have any patterns"
        doc = _abbreviation_nlp()(text)
    return tuple((short.start_char, short.end_char, short._.long_form.start_char, short._.long_form.end_char)
                 for short in doc._.abbreviations if short._.long_form is not None)


def _covered(tokens: Sequence[tuple[int, int]], a: int, b: int) -> range:
    """Indices of the tokens that overlap characters a..b."""
    starts = _Starts(tokens)
    lo = max(0, bisect.bisect_right(starts, a) - 1)
    if lo < len(tokens) and tokens[lo][1] <= a:
        lo += 1
    return range(lo, bisect.bisect_left(starts, b))


def _abbreviations(text: str, tokens: Sequence[tuple[int, int]]) -> list[list[str]]:
    """Short forms ("HNF") carry the last word of their long form ("factor"); long forms are marked."""
    out: list[list[str]] = [[] for _ in tokens]
    for ss, se, ls, le in abbreviation_pairs(text):
        long_tokens = _covered(tokens, ls, le)
        last = text[tokens[long_tokens[-1]][0]:tokens[long_tokens[-1]][1]].lower() if long_tokens else ""
        for k in _covered(tokens, ss, se):
            out[k] += ["abbr", f"abbr_last={last}"]
        for k in long_tokens:
            out[k].append("longform")
    return out


def second_pass_features(
    text: str, tokens: Sequence[tuple[int, int]], first: Sequence[tuple[int, int, str]]
) -> list[list[str]]:
    """What a first pass over the whole abstract found, as features of a second (the way tmChem and
    GNormPlus make an abstract agree with itself): each token's first-pass tag and its neighbours',
    the type the same string got elsewhere in the abstract, and for a short form the type its long
    form got ("FOP" is a disease when "fibrodysplasia ossificans progressiva" is one)."""
    tags = tags_of(tokens, first)
    out: list[list[str]] = [[f"t1={t}"] for t in tags]
    for i in range(len(tokens)):
        if i > 0:
            out[i].append(f"t1-1={tags[i - 1]}")
        if i + 1 < len(tokens):
            out[i].append(f"t1+1={tags[i + 1]}")
    seen: dict[tuple[str, ...], dict[str, int]] = {}
    for s, e, label in first:
        key = _key(text, tokens_of(text[s:e]), s)
        counts = seen.setdefault(key, {})
        counts[label] = counts.get(label, 0) + 1
    doc = Gazetteer({k: (max(v, key=lambda t: (v[t], t)), 1.0) for k, v in seen.items()})
    for key, a, b in doc.matches(text, tokens):
        label = doc.entries[key][0]
        for k in range(a, b + 1):
            out[k].append(f"doc={'B' if k == a else 'I'}-{label}")
    for ss, se, ls, le in abbreviation_pairs(text):
        inside = [label for s, e, label in first if s >= ls and e <= le]
        exact = [label for s, e, label in first if (s, e) == (ls, le)]
        lf = exact[0] if exact else (f"part-{inside[-1]}" if inside else "none")
        for k in _covered(tokens, ss, se):
            out[k].append(f"lf={lf}")
        for k in _covered(tokens, ls, le):
            out[k].append("in_lf")
    return out


class Gazetteer:
    """Entity strings of the training documents with their type and how often the string, where it
    occurs, is annotated ("diabetes" nearly always, "T" rarely): a learned dictionary, built from
    the train fold and shipped with the weights. While training, each document sees a gazetteer
    built from the other documents only (`tools/train_crf_ner.py`), so the CRF learns how far to
    trust a match on text it has not seen."""

    MAX_TOKENS = 8

    def __init__(self, entries: dict[tuple[str, ...], tuple[str, float]] | None = None) -> None:
        self.entries = entries or {}

    @classmethod
    def build(cls, docs: Sequence[tuple[str, Sequence[tuple[int, int, str]]]]) -> Gazetteer:
        """From (text, gold spans) pairs: each string's commonest type and its annotated share."""
        typed: dict[tuple[str, ...], dict[str, int]] = {}
        for text, spans in docs:
            for s, e, label in spans:
                key = _key(text, tokens_of(text[s:e]), s)
                if 0 < len(key) <= cls.MAX_TOKENS:
                    counts = typed.setdefault(key, {})
                    counts[label] = counts.get(label, 0) + 1
        draft = cls({k: (max(v, key=lambda t: (v[t], t)), 1.0) for k, v in typed.items()})
        seen: dict[tuple[str, ...], int] = {}
        for text, _ in docs:
            for key, _a, _b in draft.matches(text, tokens_of(text)):
                seen[key] = seen.get(key, 0) + 1
        entries = {}
        for k, v in typed.items():
            annotated = sum(v.values())
            entries[k] = (draft.entries[k][0], round(annotated / max(annotated, seen.get(k, 0)), 2))
        return cls(entries)

    def matches(self, text: str, tokens: Sequence[tuple[int, int]]) -> list[tuple[tuple[str, ...], int, int]]:
        """Longest entries found left to right, as (key, first token, last token)."""
        words = [text[s:e].lower() for s, e in tokens]
        out = []
        i = 0
        while i < len(words):
            for n in range(min(self.MAX_TOKENS, len(words) - i), 0, -1):
                key = tuple(words[i:i + n])
                if key in self.entries:
                    out.append((key, i, i + n - 1))
                    i += n
                    break
            else:
                i += 1
        return out

    def features(self, text: str, tokens: Sequence[tuple[int, int]]) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in tokens]
        for key, a, b in self.matches(text, tokens):
            label, share = self.entries[key]
            bucket = f"{min(int(share * 5), 4)}"
            for k in range(a, b + 1):
                tag = "B" if k == a else "I"
                out[k] += [f"g={tag}-{label}", f"gq={label}:{bucket}", f"gqt={tag}-{label}:{bucket}"]
        return out

    def to_json(self) -> list[list[Any]]:
        return [[" ".join(k), label, share] for k, (label, share) in sorted(self.entries.items())]

    @classmethod
    def from_json(cls, rows: list[list[Any]]) -> Gazetteer:
        return cls({tuple(k.split(" ")): (label, float(share)) for k, label, share in rows})


def _key(text: str, tokens: Sequence[tuple[int, int]], offset: int = 0) -> tuple[str, ...]:
    return tuple(text[offset + s:offset + e].lower() for s, e in tokens)


def doc_features(
    text: str, tokens: Sequence[tuple[int, int]], mentions: Sequence[Mention], use_model: bool = False,
    window: int = 2, gazetteer: Gazetteer | None = None, *, clusters: WordClusters | None = None,
    char_features: bool = False, doc_consistency: bool = False, context: Sequence[Sequence[str]] | None = None,
    tagger: Sequence[Sequence[str]] | None = None,
) -> list[list[str]]:
    """Every token's named features: its word, its neighbours' (+-window), the chunk between spaces
    it is part of, and pgxlit's mentions and abbreviations around it. `use_model`: also the NER
    model's mentions (source "model"), else only the rules'. `clusters`: each word's distributional
    class at every granularity, its neighbours' too (extract/word_clusters.py); `char_features`:
    longer affixes and name morphology (`_char_features`, `_chunk_features`); `doc_consistency`:
    what the same word does elsewhere in the abstract (`_doc_consistency`); `context`: each token's
    features from the contextual classifier (extract/context_features.py); `tagger`: each token's
    features from the fine-tuned token tagger (extract/token_tagger.py). All off gives
    exactly the features of models trained before they existed."""
    words = [text[s:e] for s, e in tokens]
    rules = _tags_at(tokens, [m for m in mentions if m.source != "model"], "r")
    model = _tags_at(tokens, [m for m in mentions if m.source == "model"], "n") if use_model else None
    abbr = _abbreviations(text, tokens)
    gaz = gazetteer.features(text, tokens) if gazetteer is not None else None
    n = len(tokens)
    cls = [clusters.classes(w) for w in words] if clusters is not None else None
    sizes = clusters.sizes if clusters is not None else ()
    docc = _doc_consistency(text, tokens, rules) if doc_consistency else None
    out: list[list[str]] = []
    for i in range(n):
        f = ["bias", *_word_features(words[i])]
        if char_features:
            f += _char_features(words[i])
        if cls is not None:
            f += [f"c{k}={c}" for k, c in zip(sizes, cls[i])]
            for j, side in ((i - 1, "-1"), (i + 1, "+1")):
                if 0 <= j < n:
                    f += [f"{side}c{k}={c}" for k, c in zip(sizes, cls[j])]
            for j, side in ((i - 2, "-2"), (i + 2, "+2")):
                if 0 <= j < n and cls[j]:
                    f.append(f"{side}c{sizes[0]}={cls[j][0]}")
        if docc is not None:
            f += docc[i]
        if context is not None:
            f += context[i]
        if tagger is not None:
            f += tagger[i]
        low = words[i].lower()
        for d in range(1, window + 1):
            for j, side in ((i - d, "-"), (i + d, "+")):
                if 0 <= j < n:
                    f += [f"{side}{d}lw={words[j].lower()}", f"{side}{d}ss={_shape(words[j], True)}"]
                    if d == 1:
                        f += [f"{side}1s3={words[j][-3:].lower()}"]
                        f += [f"{side}1{t}" for t in rules[j] if "=" in t and "k=" not in t]
                else:
                    f.append(f"{side}{d}=edge")
        if i > 0:
            f.append(f"bi-={words[i - 1].lower()}|{low}")
            if tokens[i - 1][1] == tokens[i][0]:
                f.append("glued-")
        if i + 1 < n:
            f.append(f"bi+={low}|{words[i + 1].lower()}")
            if tokens[i][1] == tokens[i + 1][0]:
                f.append("glued+")
        # the chunk between spaces this token belongs to ("CYP2D6*4", "BRCA1-associated")
        a, b = tokens[i]
        while a > 0 and not text[a - 1].isspace():
            a -= 1
        while b < len(text) and not text[b].isspace():
            b += 1
        if (a, b) != tokens[i]:
            chunk = text[a:b].lower().strip(".,;:()[]")
            f += [f"chunk={chunk}", f"chunk_sh={_shape(text[a:b], True)}"]
            if char_features:
                f += _chunk_features(text[a:b])
        f += rules[i] + abbr[i]
        if model is not None:
            f += model[i]
        if gaz is not None:
            f += gaz[i]
            if i > 0:
                f += [f"-1{t}" for t in gaz[i - 1] if t.startswith("g=")]
            if i + 1 < n:
                f += [f"+1{t}" for t in gaz[i + 1] if t.startswith("g=")]
        out.append(f)
    return out


def features_for(
    settings: CrfSettings, text: str, tokens: Sequence[tuple[int, int]], mentions: Sequence[Mention],
    gazetteer: Gazetteer | None = None, clusters: WordClusters | None = None,
    context: Sequence[Sequence[str]] | None = None, tagger: Sequence[Sequence[str]] | None = None,
) -> list[list[str]]:
    """`doc_features` with the feature choices of `settings` (the gazetteer, clusters, contextual
    classifier and token tagger features only when it asks for them; clusters default to the shipped ones)."""
    if settings.word_clusters and clusters is None:
        clusters = load_clusters()
    return doc_features(text, tokens, mentions, settings.use_model, settings.window,
                        gazetteer if settings.use_gazetteer else None,
                        clusters=clusters if settings.word_clusters else None,
                        char_features=settings.char_features, doc_consistency=settings.doc_consistency,
                        context=context if settings.context_classifier else None,
                        tagger=tagger if settings.token_tagger else None)


def tags_of(tokens: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int, str]]) -> list[str]:
    """BIO tags of the tokens for gold spans (start, end, type); a token an edge cuts goes with the span."""
    tags = [OUTSIDE] * len(tokens)
    for s, e, label in sorted(spans, key=lambda x: (x[0], -x[1])):
        inside = [k for k, (ts, te) in enumerate(tokens) if ts < e and te > s]
        if not inside or any(tags[k] != OUTSIDE for k in inside):
            continue
        tags[inside[0]] = f"B-{label}"
        for k in inside[1:]:
            tags[k] = f"I-{label}"
    return tags


def spans_of(tokens: Sequence[tuple[int, int]], tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(start, end, type) of the tagged runs; an I- after O or after another type starts a run."""
    out: list[tuple[int, int, str]] = []
    cur: list[Any] | None = None
    for (s, e), tag in zip(tokens, tags):
        if tag == OUTSIDE:
            cur = None
            continue
        kind, label = tag.split("-", 1)
        if kind == "B" or cur is None or cur[2] != label:
            cur = [s, e, label]
            out.append(cur)  # type: ignore[arg-type]
        else:
            cur[1] = e
    return [(s, e, label) for s, e, label in out]


# ---- the tagger --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CrfSettings:
    """Feature choices a model was trained with (kept in its meta.json)."""

    use_model: bool = False
    window: int = 2
    use_gazetteer: bool = False
    word_clusters: bool = False
    char_features: bool = False
    doc_consistency: bool = False
    context_classifier: bool = False
    token_tagger: str = ""  # the model folder (a sibling of the CRF's) of a fine-tuned token tagger read as features

    @classmethod
    def from_meta(cls, features: dict[str, Any]) -> CrfSettings:
        """The settings a meta.json's "features" records; a flag it lacks is off (older models)."""
        return cls(bool(features.get("use_model", False)), int(features.get("window", 2)),
                   bool(features.get("use_gazetteer", False)), bool(features.get("word_clusters", False)),
                   bool(features.get("char_features", False)), bool(features.get("doc_consistency", False)),
                   bool(features.get("context_classifier", False)), str(features.get("token_tagger", "")))

    def to_meta(self) -> dict[str, Any]:
        return {"use_model": self.use_model, "window": self.window, "use_gazetteer": self.use_gazetteer,
                "word_clusters": self.word_clusters, "char_features": self.char_features,
                "doc_consistency": self.doc_consistency,
                **({"context_classifier": True} if self.context_classifier else {}),
                **({"token_tagger": self.token_tagger} if self.token_tagger else {})}


class CrfTagger:
    """A trained CRFsuite model and the feature settings it was trained with."""

    def __init__(self, folder: str | Path) -> None:
        import pycrfsuite

        self.folder = Path(folder)
        meta_file = self.folder / "meta.json"
        if not meta_file.is_file() or not (self.folder / MODEL_FILE).is_file():
            raise FileNotFoundError(f"no CRF model in {self.folder} ({MODEL_FILE} or meta.json missing); "
                                    f"build it with `{build_command(self.folder.name.removesuffix('_crf'))}`")
        self.meta: dict[str, Any] = json.loads(meta_file.read_text(encoding="utf-8"))
        self.types: tuple[str, ...] = tuple(self.meta["types"])
        self.settings = CrfSettings.from_meta(self.meta.get("features", {}))
        self.clusters: WordClusters | None = load_clusters() if self.settings.word_clusters else None
        self.gazetteer: Gazetteer | None = None
        if self.settings.use_gazetteer:
            rows = json.loads((self.folder / GAZETTEER_FILE).read_text(encoding="utf-8"))
            self.gazetteer = Gazetteer.from_json(rows)
        self.context: ContextClassifier | None = None
        if self.settings.context_classifier:
            self.context = ContextClassifier.load(self.folder / CONTEXT_FILE)
        self._encoder: Any = None
        self.token_tagger: Any = None
        if self.settings.token_tagger:
            from pgxlit.extract.token_tagger import load_tagger as load_token_tagger

            self.token_tagger = load_token_tagger(self.folder.parent / self.settings.token_tagger)
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open(str(self.folder / MODEL_FILE))
        self._second: Any = None
        if self.meta.get("features", {}).get("second_pass"):
            self._second = pycrfsuite.Tagger()
            self._second.open(str(self.folder / SECOND_PASS_FILE))
        self._lock = threading.Lock()  # a CRFsuite tagger holds one sequence at a time

    def features(self, text: str, tokens: Sequence[tuple[int, int]], mentions: Sequence[Mention]) -> list[list[str]]:
        """The first pass's token features, with the feature choices the model was trained with."""
        context = None
        if self.context is not None:
            if self._encoder is None:
                from pgxlit.extract.encoder import TokenEncoder

                self._encoder = TokenEncoder()
            vectors = token_vectors(self._encoder, [text], [tokens], self.context.layers)[0]
            context = self.context.features(vectors)
        tagger = None
        if self.token_tagger is not None:
            probs = self.token_tagger.probabilities([text])[0]
            tagger = context_feature_lists(self.token_tagger.labels, probs, TAGGER_PREFIX)
        return features_for(self.settings, text, tokens, mentions, self.gazetteer, self.clusters, context, tagger)

    def _last_pass(self, text: str, tokens: Sequence[tuple[int, int]], feats: list[list[str]]) -> tuple[Any, list[str]]:
        """The Viterbi tags of the last pass (the second when the model has one) and that pass's tagger,
        still holding the sequence (call under the lock: its marginals are read next)."""
        tags = self._tagger.tag(feats)
        if self._second is None:
            return self._tagger, tags
        again = second_pass_features(text, tokens, spans_of(tokens, tags))
        return self._second, self._second.tag([f + g for f, g in zip(feats, again)])

    def tag(self, text: str, mentions: Sequence[Mention]) -> list[Mention]:
        """The scheme's entities of `text` (exact spans, the scheme's types), given pgxlit's mentions of it."""
        tokens = tokens_of(text)
        if not tokens:
            return []
        feats = self.features(text, tokens, mentions)
        with self._lock:
            _, tags = self._last_pass(text, tokens, feats)
        return [Mention(s, e, label, text[s:e], source="crf") for s, e, label in spans_of(tokens, tags)
                if label in self.types]

    def tag_scored(self, text: str, mentions: Sequence[Mention], threshold: float | None = 0.1,
                   ) -> list[tuple[int, int, str, float, bool]]:
        """Every span with the last pass's own confidence: (start, end, type, weakest marginal, on the Viterbi
        path?); spans off the path are runs of marginals >= `threshold` that cross no path span (None: the path
        only). The same contract as extract/nested_crf.py's, so extract/span_vote.py can weigh either CRF
        against the span model."""
        from pgxlit.extract.nested_crf import marginal_scored, span_marginal  # nested_crf builds on this module

        tokens = tokens_of(text)
        if not tokens:
            return []
        feats = self.features(text, tokens, mentions)
        out: dict[tuple[int, int, str], tuple[float, bool]] = {}
        with self._lock:
            tagger, tags = self._last_pass(text, tokens, feats)
            path = spans_of(tokens, tags)
            for span in path:
                out[span] = (span_marginal(tagger, tokens, span), True)
            if threshold is not None:
                for s, e, label, p in marginal_scored(tagger, tokens, path, threshold):
                    out.setdefault((s, e, label), (p, False))
        return sorted((s, e, label, p, on) for (s, e, label), (p, on) in out.items() if label in self.types)


_CACHE: dict[Path, CrfTagger] = {}
_LOCK = threading.Lock()


def load_tagger(folder: str | Path) -> CrfTagger:
    """The tagger of a folder, loaded once per process."""
    path = Path(folder).resolve()
    with _LOCK:
        if path not in _CACHE:
            _CACHE[path] = CrfTagger(path)
        return _CACHE[path]


def shipped_tagger(scheme: str) -> CrfTagger | None:
    """corpora/models/<scheme>_crf when it is shipped and python-crfsuite is installed, else None."""
    folder = default_model_dir(scheme)
    if not (folder / MODEL_FILE).is_file():
        return None
    try:
        import pycrfsuite  # noqa: F401
    except ImportError:
        return None
    return load_tagger(folder)
