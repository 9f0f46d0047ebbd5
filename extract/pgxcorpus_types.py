"""PGxCorpus's own scheme: ten entity types with exact spans, from pgxlit's six coarse labels.

pgxlit's recognisers say DRUG, GENE, VARIANT, ALLELE, PHENOTYPE, DISEASE. PGxCorpus
(Legrand et al. 2020; ../shared/gold/pgxcorpus/annotation_guidelines.pdf) splits
finer: Phenotype into Pharmacokinetic_phenotype (exposure, metabolism, clearance,
concentration of a drug), Pharmacodynamic_phenotype (response, toxicity, efficacy,
resistance) and other Phenotype; genes into Gene_or_protein and Genomic_factor
(promoters, exons, mRNAs, chromosomes: a genomic element named as a factor);
variants into Limited_variation (a SNP, a gene's polymorphisms or genotype),
Genomic_variation (translocations, amplifications, a gene's status) and Haplotype.
Its spans also differ from ours at the edges ("polymorphisms in CYP3A5" is one
Limited_variation; "the" and trailing brackets are outside).

`FineTyper` is one learned step for both: every pgxlit mention proposes candidate
spans (its own and token edits of each edge), a linear classifier trained on the
PGxCorpus TRAIN fold (tools/train_pgxcorpus_types.py) scores each candidate over
NONE + the ten types, and each mention keeps its best candidate when a type beats
NONE. No rule names a drug, gene or sentence; the only hand-written knowledge is the
cue vocabulary the guidelines use to define the types (metabolism vs response...).
Relations keep their types (already PGxCorpus's seven) and follow their mentions.
The weights are derived from PGxCorpus (CC BY-NC 4.0): non-commercial use only.

Models that read every token themselves sit behind the same `retype` contract: the MiniLM span
model (`SpanTyper`) and the CRF taggers (`CrfTyper`): for PGxCorpus, whose entities nest, that is
extract/nested_crf.py's stacked levels (`NESTED_SCHEMES`), for BioRED crf_ner's one BIO layer; and
`VoteTyper`, the CRF's and the span model's spans voted into one set (extract/span_vote.py, the rule
chosen on the held-back fifth by tools/choose_span_vote.py, kept in corpora/models/<scheme>_vote).

The same mechanism learns BioRED's scheme (its four types that pgxlit's labels cover,
its span edges; corpora/models/biored_types, trained on the BioRED train fold), which
is how `pgxlit eval extraction --gold biored` reports pgxlit in BioRED's own terms.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pgxlit.extract.evaluate import BIORED_TO_PGXLIT, PGXCORPUS_TO_PGXLIT
from pgxlit.extract.relation_model import LinearHead
from pgxlit.records import Mention, RelationMention
from pgxlit.shipped import shipped

__all__ = [
    "PGXCORPUS_TYPES",
    "CUES",
    "NONE",
    "BUILD_COMMAND",
    "Candidate",
    "FineTyper",
    "candidates",
    "candidate_features",
    "default_model_dir",
    "load_typer",
    "shipped_typer",
    "SpanTyper",
    "CrfTyper",
    "VoteTyper",
    "crf_scores",
    "relate_on",
    "MEASURED_BEST",
    "TokenStarts",
    "attach_rules",
    "SCHEME_NER_CHOICES",
    "NESTED_SCHEMES",
    "describe_typer",
    "to_pgxcorpus",
    "tokens_of",
]

PGXCORPUS_TYPES = (
    "Chemical", "Gene_or_protein", "Genomic_factor", "Limited_variation", "Genomic_variation", "Haplotype",
    "Phenotype", "Pharmacokinetic_phenotype", "Pharmacodynamic_phenotype", "Disease",
)
NONE = "NONE"
BUILD_COMMAND = "python tools/train_pgxcorpus_types.py --shared ../shared --out corpora/models/pgxcorpus_types"

# How a candidate's edges may move, in tokens (left edge, right edge): on the train fold,
# when a gold span differs from the mention it overlaps, one edge nearly always stays put.
EDITS = (
    *((dl, 0) for dl in (-6, -5, -4, -3, -2, -1, 1, 2, 3)),
    *((0, dr) for dr in (-3, -2, -1, 1, 2, 3, 4, 5, 6, 7, 8)),
    (-1, 1), (-2, 1), (-1, 2), (-2, 2),
)

# Cue words from the guidelines' definitions of the types (section 2.1).
CUES: dict[str, tuple[str, ...]] = {
    "pk": ("metabol", "clearance", "pharmacokinet", "concentration", "auc", "exposure", "plasma", "level",
           "disposition", "elimination", "absorption", "half-life", "cmax", "bioavailab", "kinetic",
           "distribution", "accumulation", "formation", "activity", "ratio", "excretion", "uptake", "serum"),
    "pd": ("response", "respond", "toxicit", "efficacy", "resistan", "sensitiv", "adverse", "induced",
           "hypersensitiv", "related", "outcome", "effect", "dose", "dosage", "requirement", "benefit",
           "reaction", "tolerance", "action", "associated", "failure", "relapse", "remission"),
    "var": ("polymorphism", "mutation", "mutant", "variant", "genotype", "snp", "allele", "deletion",
            "insertion", "substitution", "carrier", "homozyg", "heterozyg", "variation", "haplotype", "rs"),
    "gvar": ("amplification", "translocation", "status", "knockout", "knockdown", "knock-down", "duplication",
             "repeat", "copy", "fusion", "truncat", "overexpress", "loss", "rearrangement", "expression"),
    "factor": ("mrna", "promoter", "exon", "intron", "chromosome", "region", "locus", "gene", "genes",
               "receptor", "transporter", "enzyme", "protein", "site", "sites", "element"),
    "disease": ("disease", "cancer", "syndrome", "carcinoma", "tumor", "tumour", "disorder", "infection",
                "patients", "leukemia", "diabetes", "depression"),
}
_STOP = frozenset({"the", "a", "an", "of", "in", "on", "to", "and", "or", "with", "for", "by", "as", "at", "from",
                   "that", "this", "these", "its", "their", "is", "was", "were", "be", "been", "which"})
_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]")


def tokens_of(text: str) -> list[tuple[int, int]]:
    """Token offsets: words (hyphen-joined) and single punctuation marks, as PGxCorpus's spans split them."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A span proposed by one pgxlit mention (index `source` in the sentence's mention list)."""

    start: int
    end: int
    source: int
    left: int  # token edit of the left edge (negative = grown leftwards)
    right: int  # token edit of the right edge (positive = grown rightwards)


def _token_index(tokens: Sequence[tuple[int, int]], m: Mention) -> tuple[int, int] | None:
    """First and last token of a mention (tokens overlapping its extent)."""
    k = max(0, bisect.bisect_right(TokenStarts(tokens), m.start) - 1)
    inside = []
    while k < len(tokens) and tokens[k][0] < m.end:
        if tokens[k][1] > m.start:
            inside.append(k)
        k += 1
    return (inside[0], inside[-1]) if inside else None


def candidates(text: str, mentions: Sequence[Mention], tokens: Sequence[tuple[int, int]] | None = None) -> list[Candidate]:
    """Every mention's own span plus token edits of its edges (deduplicated per mention)."""
    tokens = tokens if tokens is not None else tokens_of(text)
    out: list[Candidate] = []
    for i, m in enumerate(mentions):
        span = _token_index(tokens, m)
        if span is None:
            continue
        a, b = span
        seen = {(m.start, m.end)}
        out.append(Candidate(m.start, m.end, i, 0, 0))
        for dl, dr in EDITS:
            ta, tb = a + dl, b + dr
            if ta < 0 or tb >= len(tokens) or ta > tb:
                continue
            s, e = tokens[ta][0], tokens[tb][1]
            if (s, e) in seen or "\n" in text[s:e]:
                continue
            seen.add((s, e))
            out.append(Candidate(s, e, i, dl, dr))
    return out


class TokenStarts:
    """Token starts as a sequence bisect can search without building a list per candidate."""

    def __init__(self, tokens: Sequence[tuple[int, int]]) -> None:
        self.tokens = tokens

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, k: int) -> int:
        return self.tokens[k][0]


def _shape(word: str) -> str:
    s = re.sub(r"[A-Z]", "A", word)
    s = re.sub(r"[a-z]", "a", s)
    s = re.sub(r"[0-9]", "0", s)
    return re.sub(r"(.)\1+", r"\1\1", s)


def _cue_hits(words: Sequence[str]) -> list[str]:
    found = []
    for name, cues in CUES.items():
        if any(w.startswith(c) for w in words for c in cues):
            found.append(name)
    return found


def candidate_features(
    text: str, tokens: Sequence[tuple[int, int]], mentions: Sequence[Mention], c: Candidate
) -> list[str]:
    """Named features of one candidate: its words, its edges, its context and the mentions it holds."""
    m = mentions[c.source]
    lab = m.label
    lo = bisect.bisect_left(TokenStarts(tokens), c.start)
    toks = []
    for k in range(lo, len(tokens)):
        if tokens[k][0] >= c.end:
            break
        if tokens[k][1] <= c.end:
            toks.append(k)
    words = [text[tokens[k][0]:tokens[k][1]].lower() for k in toks]
    if not words:
        return [f"lab={lab}", "empty"]
    first, last = words[0], words[-1]
    k0, k1 = toks[0], toks[-1]
    left1 = text[tokens[k0 - 1][0]:tokens[k0 - 1][1]].lower() if k0 > 0 else "<s>"
    left2 = text[tokens[k0 - 2][0]:tokens[k0 - 2][1]].lower() if k0 > 1 else "<s>"
    right1 = text[tokens[k1 + 1][0]:tokens[k1 + 1][1]].lower() if k1 + 1 < len(tokens) else "</s>"
    right2 = text[tokens[k1 + 2][0]:tokens[k1 + 2][1]].lower() if k1 + 2 < len(tokens) else "</s>"
    edit = f"{c.left},{c.right}"
    n = len(words)
    f = [
        "bias", f"lab={lab}", f"kind={m.kind}", f"src={m.source}", f"lab_src={lab}|{m.source}",
        f"edit={edit}", f"lab_edit={lab}|{edit}", f"dl={c.left}", f"dr={c.right}",
        f"lab_dl={lab}|{c.left}", f"lab_dr={lab}|{c.right}",
        f"first={first}", f"last={last}", f"lab_last={lab}|{last}", f"lab_first={lab}|{first}",
        f"len={min(n, 8)}", f"lab_len={lab}|{min(n, 8)}",
        f"l1={left1}", f"l2={left2}", f"r1={right1}", f"r2={right2}",
        f"lab_l1={lab}|{left1}", f"lab_r1={lab}|{right1}",
        f"shape_first={_shape(text[tokens[k0][0]:tokens[k0][1]])}",
        f"shape_last={_shape(text[tokens[k1][0]:tokens[k1][1]])}",
        f"suf_last={last[-3:]}", f"lab_suf_last={lab}|{last[-3:]}",
    ]
    f += [f"w={w}" for w in set(words)]
    f += [f"lab_w={lab}|{w}" for w in set(words) if w not in _STOP]
    if first in _STOP:
        f.append("first_stop")
    if last in _STOP:
        f.append("last_stop")
    if not re.match(r"\w", first):
        f.append(f"first_punct={first}")
    if not re.match(r"\w", last):
        f.append(f"last_punct={last}")
    opened = sum(w in "([" for w in words) - sum(w in ")]" for w in words)
    if opened:
        f.append(f"brackets={'open' if opened > 0 else 'close'}")
    if c.left < 0 or c.right > 0:
        grown = [text[tokens[k][0]:tokens[k][1]].lower() for k in toks
                 if tokens[k][0] < m.start or tokens[k][1] > m.end]
        f += [f"grown={w}" for w in grown]
        f += [f"lab_grown={lab}|{w}" for w in grown]
        f += [f"grown_cue={x}" for x in _cue_hits(grown)]
    for cue in _cue_hits(words):
        f += [f"cue={cue}", f"lab_cue={lab}|{cue}"]
    for cue in _cue_hits([left1, left2, right1, right2]):
        f.append(f"ctx_cue={cue}")
    # the other mentions the candidate holds, equals or touches
    for j, o in enumerate(mentions):
        if j == c.source:
            continue
        if o.start == c.start and o.end == c.end:
            f.append(f"same_as={o.label}")
        elif o.start >= c.start and o.end <= c.end:
            f.append(f"holds={o.label}")
            f.append(f"lab_holds={lab}|{o.label}")
        elif o.start <= c.start and o.end >= c.end:
            f.append(f"inside={o.label}")
        elif o.start < c.end and o.end > c.start:
            f.append(f"crosses={o.label}")
    if c.start == m.start and c.end == m.end:
        f.append(f"own_span={lab}")
    return f


def default_model_dir(scheme: str = "pgxcorpus") -> Path:
    """``corpora/models/<scheme>_types`` of the checkout or of the installed package."""
    return shipped(f"models/{scheme}_types", "model.json")


def carry_relations(relations: Sequence[RelationMention], moved: dict[int, int]) -> list[RelationMention]:
    """Relations moved onto the mentions their ends became (`moved`: old index -> new), each once;
    a relation whose end was dropped, or whose two ends became one mention, goes."""
    rels: list[RelationMention] = []
    seen: set[tuple[int, int, str]] = set()
    for r in relations:
        if r.head in moved and r.tail in moved and moved[r.head] != moved[r.tail]:
            key = (moved[r.head], moved[r.tail], r.type)
            if key not in seen:
                seen.add(key)
                rels.append(replace(r, head=moved[r.head], tail=moved[r.tail]))
    return rels


class FineTyper:
    """Candidates scored over NONE + PGxCorpus's ten types; each mention keeps its best."""

    def __init__(
        self, head: LinearHead, threshold: float = 0.5, nested_threshold: float = 1.0,
        meta: dict[str, Any] | None = None, relations_to: str = "outer",
    ) -> None:
        if relations_to not in ("outer", "primary"):
            raise ValueError(f"relations_to is 'outer' or 'primary', not {relations_to!r}")
        if not head.classes or head.classes[0] != NONE:
            raise ValueError(f"a typer's first class is {NONE}, not {head.classes[:1]}")
        self.head = head
        self.threshold = threshold
        self.nested_threshold = nested_threshold
        self.relations_to = relations_to
        self.meta = meta or {}

    @classmethod
    def load(cls, folder: str | Path | None = None) -> FineTyper:
        path = Path(folder) if folder is not None else default_model_dir()
        file = path / "model.json"
        if not file.is_file():
            raise FileNotFoundError(f"no PGxCorpus typer in {path} (model.json missing); build it with `{BUILD_COMMAND}`")
        data = json.loads(file.read_text(encoding="utf-8"))
        return cls(LinearHead.from_json(data["head"]), float(data["threshold"]),
                   float(data.get("nested_threshold", 1.0)), data.get("meta"), data.get("relations_to", "outer"))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        data = {"head": self.head.to_json(ndigits=4), "threshold": self.threshold,
                "nested_threshold": self.nested_threshold, "relations_to": self.relations_to, "meta": self.meta}
        (folder / "model.json").write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")

    def scored(self, text: str, mentions: Sequence[Mention]) -> tuple[list[Candidate], np.ndarray]:
        """Every candidate of the sentence and its class probabilities (columns = head.classes)."""
        tokens = tokens_of(text)
        cands = candidates(text, mentions, tokens)
        if not cands:
            return [], np.zeros((0, len(self.head.classes)))
        feats = [candidate_features(text, tokens, mentions, c) for c in cands]
        return cands, self.head.proba(feats)

    def retype(
        self, text: str, mentions: Sequence[Mention], relations: Sequence[RelationMention] = ()
    ) -> tuple[list[Mention], list[RelationMention]]:
        """Mentions in the PGxCorpus scheme (label = a PGxCorpus type, exact span) and the
        relations between the ones kept, re-indexed. A mention whose best candidate is NONE
        is dropped; two mentions landing on the same span and type become one."""
        return self.decode(text, mentions, relations, *self.scored(text, mentions))

    def decode(
        self, text: str, mentions: Sequence[Mention], relations: Sequence[RelationMention],
        cands: Sequence[Candidate], probs: np.ndarray,
    ) -> tuple[list[Mention], list[RelationMention]]:
        """`retype` from already scored candidates. Each mention keeps its best typed candidate
        (>= threshold) and, when one scores >= nested_threshold, a second of another type nested
        with it ("[CYP3A5] polymorphisms" is a gene inside a variation)."""
        per_source: dict[int, list[tuple[float, Candidate, str]]] = {}
        for c, p in zip(cands, probs):
            k = int(np.argmax(p[1:])) + 1
            if p[k] >= min(self.threshold, self.nested_threshold):
                per_source.setdefault(c.source, []).append((float(p[k]), c, self.head.classes[k]))
        chosen: list[tuple[int, Candidate, str]] = []
        for i, found in per_source.items():
            found.sort(key=lambda x: (-x[0], x[1].start, x[1].end))
            score, first, label = found[0]
            if score < self.threshold:
                continue
            chosen.append((i, first, label))
            for score2, c, label2 in found[1:]:
                if score2 < self.nested_threshold:
                    break
                nested = (c.start <= first.start and c.end >= first.end) or (c.start >= first.start and c.end <= first.end)
                if label2 != label and nested:
                    chosen.append((-1 - i, c, label2))  # a second mention of the same source
                    break
        out: list[Mention] = []
        where: dict[tuple[int, int, str], int] = {}
        index: dict[int, int] = {}
        for i, c, label in sorted(chosen, key=lambda x: (x[1].start, x[1].end, x[2])):
            key = (c.start, c.end, label)
            if key not in where:
                where[key] = len(out)
                source = mentions[i if i >= 0 else -1 - i]
                # the source's identifier stays only on what is still that kind of thing
                # ("CYP2D6 gene" keeps HGNC:2625; "codeine toxicity" does not keep codeine's id)
                norm = source.norm if _COARSE.get(label) == source.label else None
                out.append(replace(source, start=c.start, end=c.end, label=label, text=text[c.start:c.end], norm=norm))
            # A source's relations follow its outer mention when it has two ("[warfarin] dose" is what
            # PGxCorpus relates a gene to), else its only one; "primary" keeps them on the best-scored.
            src = i if i >= 0 else -1 - i
            if src not in index or (self.relations_to == "outer" and c.end - c.start > len(out[index[src]].text)) or (
                self.relations_to != "outer" and i >= 0
            ):
                index[src] = where[key]
        return out, carry_relations(relations, index)


_COARSE: dict[str, str | None] = {**PGXCORPUS_TO_PGXLIT, **BIORED_TO_PGXLIT}

_CACHE: dict[Path, FineTyper] = {}
_LOCK = threading.Lock()


def load_typer(folder: str | Path | None = None) -> FineTyper:
    """The typer of a folder (default: the shipped one), loaded once per process."""
    path = (Path(folder) if folder is not None else default_model_dir()).resolve()
    with _LOCK:
        if path not in _CACHE:
            _CACHE[path] = FineTyper.load(path)
        return _CACHE[path]


Relate = Callable[[str, Sequence[Mention]], list[RelationMention]]


def to_pgxcorpus(
    text: str, mentions: Sequence[Mention], relations: Sequence[RelationMention] = (),
    typer: FineTyper | SpanTyper | None = None,
    relate: Relate | None = None,
) -> tuple[list[Mention], list[RelationMention]]:
    """One sentence's mentions and relations in PGxCorpus's scheme: through the typer when one
    is given, else each coarse label's most common type (no PK/PD split, spans unchanged).

    With `relate` (pipeline.relate) the relations are judged again on the typed mentions, given
    their coarse labels: PGxCorpus's spans are closer to what the relation model was trained on
    (train fold, typer of this module: exact typed relation F1 0.555 carried vs 0.584 judged again)."""
    from pgxlit.extract.evaluate import PGXLIT_TO_PGXCORPUS

    if typer is None:
        return [replace(m, label=PGXLIT_TO_PGXCORPUS.get(m.label, m.label)) for m in mentions], list(relations)
    typed, carried = typer.retype(text, mentions, relations)
    if relate is None:
        return typed, carried
    return typed, relate_on(text, typed, [True] * len(typed), relate)


def attach_rules(
    found: Sequence[Mention], mentions: Sequence[Mention], relations: Sequence[RelationMention]
) -> tuple[list[Mention], list[RelationMention]]:
    """A scheme model's own spans given the rule mentions' identifiers and finer kinds where they are
    still that kind of thing ("CYP2D6" keeps HGNC:2625), and the relations carried onto the span each
    of their mentions overlaps most."""
    out: list[Mention] = []
    owner: dict[int, int] = {}  # rule mention -> typed mention
    for m in found:
        coarse = _COARSE.get(m.label)
        same = [(min(m.end, r.end) - max(m.start, r.start), i) for i, r in enumerate(mentions)
                if r.label == coarse and r.start < m.end and m.start < r.end]
        if same:
            _, i = max(same)
            r = mentions[i]
            m = replace(m, norm=r.norm, kind=r.kind)
            if i not in owner or (m.end - m.start) > (out[owner[i]].end - out[owner[i]].start):
                owner[i] = len(out)
        out.append(m)
    return out, carry_relations(relations, owner)


class SpanTyper:
    """The MiniLM span model (extract/span_ner.py) behind FineTyper's `retype` contract: it reads
    the scheme's spans itself instead of re-typing pgxlit's mentions (`attach_rules`)."""

    def __init__(self, tagger: Any) -> None:
        self.tagger = tagger
        self.classes: list[str] = [NONE, *tagger.types]
        self.meta = tagger.meta

    @property
    def head(self) -> SpanTyper:
        """FineTyper-compatible: callers that read `typer.head.classes` get this model's classes."""
        return self

    def retype(
        self, text: str, mentions: Sequence[Mention], relations: Sequence[RelationMention] = ()
    ) -> tuple[list[Mention], list[RelationMention]]:
        """The scheme's mentions of `text` (exact spans, types of the scheme) and the relations between
        the rule mentions carried onto them."""
        return attach_rules(self.tagger.tag_document(text), mentions, relations)


class CrfTyper(SpanTyper):
    """The CRF tagger (extract/crf_ner.py, or extract/nested_crf.py's levels for nested schemes) behind
    the same contract: it tags every token of the text, with pgxlit's mentions of it as features."""

    def retype(
        self, text: str, mentions: Sequence[Mention], relations: Sequence[RelationMention] = ()
    ) -> tuple[list[Mention], list[RelationMention]]:
        return attach_rules(self.tagger.tag(text, mentions), mentions, relations)


def crf_scores(spans: Sequence[tuple[int, int, str, float, bool]], mapping: str = "path") -> list[tuple[int, int, str, float]]:
    """The nested CRF's scored spans (NestedCrfTagger.tag_scored) as one vote score each: "path" = 1 on
    the Viterbi path and the weakest marginal off it; "marginal" = the weakest marginal always."""
    if mapping not in ("path", "marginal"):
        raise ValueError(f"a CRF score mapping is 'path' or 'marginal', not {mapping!r}")
    return [(s, e, label, 1.0 if path and mapping == "path" else p) for s, e, label, p, path in spans]


def relate_on(text: str, typed: Sequence[Mention], candidate: Sequence[bool], relate: Relate) -> list[RelationMention]:
    """Relations judged by `relate` among the typed mentions marked as candidates (given their coarse
    labels), indexed into `typed`. The pipeline relates all of them; tools/choose_span_vote.py measures
    leaving the spans a tagger is unsure of out (it lowered held-back relations, so nothing leaves them out)."""
    idx = [i for i, c in enumerate(candidate) if c]
    coarse = [replace(typed[i], label=_COARSE.get(typed[i].label) or typed[i].label) for i in idx]
    return [replace(r, head=idx[r.head], tail=idx[r.tail]) for r in relate(text, coarse)]


# Mention.source of a vote's span that is on the CRF's Viterbi path or given by both taggers, and of the others
VOTE_SURE, VOTE_EXTRA = "vote", "vote_extra"


class VoteTyper(SpanTyper):
    """A scheme's CRF (nested for PGxCorpus, flat for BioRED: both answer `tag_scored`) and its MiniLM span
    model voted into one span set (extract/span_vote.py; the rule and how it was chosen in
    corpora/models/<scheme>_vote/meta.json), behind the `retype` contract."""

    def __init__(self, crf: Any, span: Any, rule: Any, meta: dict[str, Any]) -> None:
        self.tagger = crf
        self.span = span
        self.rule = rule
        self.meta = meta
        self.classes = [NONE, *crf.types]
        self.crf_score = str(meta.get("crf_score") or "path")
        self.crf_floor = float(meta.get("crf_marginal_floor", 0.1))
        self.span_floor = float(meta.get("span_floor", 0.05))
        self.span_nested = meta.get("span_nested")  # None: the span model's spans as it decodes them

    def retype(
        self, text: str, mentions: Sequence[Mention], relations: Sequence[RelationMention] = ()
    ) -> tuple[list[Mention], list[RelationMention]]:
        from pgxlit.extract.span_vote import vote

        raw = self.tagger.tag_scored(text, mentions, threshold=self.crf_floor)
        path = {(s, e, label) for s, e, label, _, on in raw if on}
        offered = self.span.tag_document_scored(text, self.span_floor, self.span_nested)
        voted = vote(crf_scores(raw, self.crf_score), offered, self.rule)
        found = [Mention(v.start, v.end, v.label, text[v.start:v.end],
                         source=VOTE_SURE if v.agreed or (v.start, v.end, v.label) in path else VOTE_EXTRA)
                 for v in voted]
        return attach_rules(found, mentions, relations)


SCHEME_NER_CHOICES = ("auto", "crf", "span", "typer", "vote")
# Schemes whose entities nest, so their "crf" is extract/nested_crf.py's stacked levels, not one BIO layer.
NESTED_SCHEMES = frozenset({"pgxcorpus"})
# What "auto" picks per scheme: the shipped models in the order they measure on the scheme's test
# fold (exact-span macro-F1, extract/expected/*.test.json); the linear typer is the last resort.
# PGxCorpus: the vote 0.539 / relations 0.224 (0.227 since the relation scoring fix) against the CRF's 0.476 / 0.194 (test fold; the rule chosen
# on the held-back fifth, every voted span a relation candidate: tools/choose_span_vote.py measured that).
# BioRED: the vote of the flat CRF and the span model, chosen on the held-back fifth (0.8126 -> 0.8334).
MEASURED_BEST: dict[str, tuple[str, ...]] = {"biored": ("vote", "crf", "typer"), "pgxcorpus": ("vote", "crf", "typer")}


def describe_typer(typer: FineTyper | SpanTyper | None, scheme: str = "pgxcorpus") -> str:
    """Which model wrote a scheme's entities, in words for a report line."""
    if isinstance(typer, VoteTyper):
        return (f"a vote of the CRF tagger and the MiniLM span model (corpora/models/{scheme}_crf, "
                f"{scheme}_span, {scheme}_vote)")
    if isinstance(typer, CrfTyper):
        return f"the CRF tagger (corpora/models/{scheme}_crf)"
    if isinstance(typer, SpanTyper):
        return f"the MiniLM span model (corpora/models/{scheme}_span)"
    if typer is not None:
        return f"rules + NER re-typed by the linear typer (corpora/models/{scheme}_types)"
    return "coarse labels mapped (no model shipped)"


def shipped_typer(scheme: str = "pgxcorpus", kind: str | None = None) -> FineTyper | SpanTyper | None:
    """What writes a scheme's (pgxcorpus, biored) entities, chosen by `kind` or the setting
    extract.scheme_ner: "crf" (corpora/models/<scheme>_crf: nested levels for PGxCorpus), "span" (corpora/models/<scheme>_span),
    "typer" (corpora/models/<scheme>_types), "vote" (the CRF and the span model voted, corpora/models/<scheme>_vote)
    or "auto" (the first shipped of MEASURED_BEST[scheme]: the vote for both, else the CRF; the
    typer when neither is shipped). None when nothing is shipped (for PGxCorpus the
    coarse mapping applies then)."""
    if kind is None:
        from pgxlit.config import get_settings

        kind = getattr(get_settings().extract, "scheme_ner", "typer")
    if kind not in SCHEME_NER_CHOICES:
        raise ValueError(f"extract.scheme_ner is one of {', '.join(SCHEME_NER_CHOICES)}, not {kind!r} "
                         "(set PGXLIT_EXTRACT_SCHEME_NER)")
    for choice in MEASURED_BEST.get(scheme, ("typer",)) if kind == "auto" else (kind,):
        found = _shipped(scheme, choice, required=kind != "auto")
        if found is not None:
            return found
    return None


def _shipped(scheme: str, kind: str, required: bool) -> FineTyper | SpanTyper | None:
    """One kind of scheme model when it is shipped; a missing CRF or span model the setting asks
    for is an error that says how to build it."""
    if kind == "vote":
        return _shipped_vote(scheme, required)
    if kind in ("crf", "span"):
        import importlib

        module = importlib.import_module(f"pgxlit.extract.{'crf_ner' if kind == 'crf' else 'span_ner'}")
        if kind == "crf" and scheme in NESTED_SCHEMES:  # entities that nest: one CRF per level
            module = importlib.import_module("pgxlit.extract.nested_crf")
        tagger = module.shipped_tagger(scheme)
        if tagger is not None:
            return CrfTyper(tagger) if kind == "crf" else SpanTyper(tagger)
        if required:
            needs = " (or python-crfsuite is not installed)" if kind == "crf" else ""
            raise FileNotFoundError(f"extract.scheme_ner is '{kind}' but no {kind.upper() if kind == 'crf' else kind} "
                                    f"model is shipped for {scheme}{needs}; build it with "
                                    f"`{module.build_command(scheme)}` or set PGXLIT_EXTRACT_SCHEME_NER=typer")
        return None
    folder = default_model_dir(scheme)
    return load_typer(folder) if (folder / "model.json").is_file() else None


def vote_dir(scheme: str = "pgxcorpus") -> Path:
    """``corpora/models/<scheme>_vote`` of the checkout or of the installed package."""
    return shipped(f"models/{scheme}_vote", "meta.json")


def _shipped_vote(scheme: str, required: bool) -> VoteTyper | None:
    """The vote of a scheme's CRF and span model when the vote and both models are shipped."""
    from pgxlit.extract.span_vote import load_rule

    folder = vote_dir(scheme)
    meta_file = folder / "meta.json"
    adopted = meta_file.is_file() and json.loads(meta_file.read_text(encoding="utf-8")).get("rule") is not None
    crf = _shipped(scheme, "crf", required=False) if adopted else None
    span = _shipped(scheme, "span", required=False) if adopted else None
    if crf is None or span is None:
        if required:
            raise FileNotFoundError(f"extract.scheme_ner is 'vote' but {scheme} lacks a chosen vote rule "
                                    f"({meta_file}), its CRF or its span model; build it with `python "
                                    f"tools/choose_span_vote.py --shared ../shared --out corpora/models/{scheme}_vote` "
                                    "or set PGXLIT_EXTRACT_SCHEME_NER=crf")
        return None
    rule, meta = load_rule(folder)
    return VoteTyper(crf.tagger, span.tagger, rule, meta)
