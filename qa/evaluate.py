"""`pgxlit eval qa`: questions built from PharmGKB annotations, answered and scored.

Four kinds of questions, all against what the store holds:
- pair: "Does GENE status affect DRUG?" for PharmGKB's FDA-label drug–gene pairs whose label
  is stored; the answer should name GENE, its citations should name both.
- open: "What should I check before prescribing DRUG?"; the answer should name one of the
  label's PGx genes.
- pmid: a PharmGKB variant annotation whose PMID is stored; retrieval should find that abstract.
- absent: drugs pgxlit knows but the store has no passage about, and invented names; every
  one must be refused.
Relevance for recall@10 and nDCG@10: a live passage naming the drug and the gene (pair, open)
or coming from the PMID (pmid).
"""

from __future__ import annotations

import csv
import json
import math
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pgxlit.extract.label_eval import read_fda_label_gold
from pgxlit.extract.lexicons import normalise_drug, normalise_gene
from pgxlit.index.search import Searcher
from pgxlit.qa.answer import Answerer

from pgxlit.config import Settings
from pgxlit.store import Store

EXPECTED = Path(__file__).parent / "expected" / "qa.yaml"
QUESTIONS = Path(__file__).parent / "expected" / "questions.jsonl"
ACTING = ("Contraindication", "Test before use", "Dose change", "Alternative", "Monitor")
ACT_CLAIMS = ("avoid", "alternative", "dose_change", "test", "monitor")
INVENTED_DRUGS = ("zorblatinib", "quentrazole", "fexumab", "travopiride", "malucetin")
MODES = {"dense": ("dense", False), "lexical": ("lexical", False), "hybrid_rrf": ("hybrid", False),
         "hybrid_rrf_boost": ("hybrid", True)}
ANSWER_MODE = "hybrid_rrf_boost"  # the ranking answers use: its figures are the headline and are kept per kind


def expected_figures() -> dict[str, Any]:
    return yaml.safe_load(EXPECTED.read_text()) if EXPECTED.exists() else {}


def _strip_id(text: str) -> str:
    return re.sub(r"\s*\(PA\d+\)", "", text).strip()


def build_questions(searcher: Searcher, shared: Path, by_pmid: dict[str, set[int]],
                    limit: int | None = None) -> list[dict[str, Any]]:
    """The development question set, deterministic for a given store."""
    meta = searcher.meta
    labelled = own_label_drugs(searcher.store)
    gold = read_fda_label_gold(shared / "gold" / "pharmgkb_drug_labels" / "drugLabels.tsv")
    pairs, opens = [], []
    for drug in sorted(gold):
        if drug not in labelled:
            continue
        genes = sorted(gold[drug])
        opens.append({"kind": "open", "drug": drug, "genes": genes,
                      "question": f"What should I check before prescribing {drug}?"})
        for gene in genes:
            pairs.append({"kind": "pair", "drug": drug, "genes": [gene],
                          "question": f"Does {gene} status affect how {drug} should be prescribed?"})
    pmids = set(by_pmid)
    pmid_questions: dict[str, dict[str, Any]] = {}
    with (shared / "gold" / "pharmgkb_var_drug_ann" / "var_drug_ann.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            pmid = (row.get("Literature Id") or "").strip()
            if pmid not in pmids or pmid in pmid_questions:
                continue
            drug = normalise_drug(_strip_id(row["Chemical"].split(",")[0]))
            gene = normalise_gene(_strip_id(row["Gene"].split(",")[0]))
            if not drug or not gene:
                continue
            variant = row["Variant"].split(",")[0].strip()
            pmid_questions[pmid] = {"kind": "pmid", "drug": drug[1], "genes": [gene[1]], "pmid": pmid,
                             "question": f"Is {variant} in {gene[1]} associated with {drug[1]} response?"}
    absent = []
    seen_drugs = set(meta.by_drug)
    with (shared / "gold" / "pharmgkb_var_drug_ann" / "var_drug_ann.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            found = normalise_drug(_strip_id(row["Chemical"].split(",")[0]))
            if found and found[1] not in seen_drugs and all(a["drug"] != found[1] for a in absent):
                absent.append({"kind": "absent", "drug": found[1], "genes": [],
                               "question": f"What should I check before prescribing {found[1]}?"})
            if len(absent) >= 20:
                break
    absent += [{"kind": "absent", "drug": name, "genes": [], "question": f"Is {name} safe for CYP2D6 poor metabolizers?"}
               for name in INVENTED_DRUGS]
    cut = (lambda xs: xs[:limit]) if limit else (lambda xs: xs)
    return [*cut(pairs), *cut(opens), *cut(list(pmid_questions.values())), *cut(absent)]


def own_label_drugs(store: Store) -> set[str]:
    """Drugs whose own label is stored (a drug merely named in another label does not count)."""
    from pgxlit.extract.triples import label_subject

    return {subject.name for lv in store.label_versions() if (subject := label_subject(lv)) is not None}


def passages_by_pmid(store: Store) -> dict[str, set[int]]:
    """PMID -> ids of its live passages, read once per evaluation."""
    by_pmid: dict[str, set[int]] = defaultdict(set)
    for row in store.passage_rows():
        if row[2] == "pubmed" and row[8] and row[1] == "passage":
            by_pmid[row[8]].add(int(row[0]))
    return dict(by_pmid)


def relevant_ids(searcher: Searcher, q: dict[str, Any], by_pmid: dict[str, set[int]]) -> set[int]:
    meta = searcher.meta
    live = ~meta.superseded & ~meta.is_triple
    if q["kind"] == "pmid":
        return by_pmid.get(q["pmid"], set())
    drug_rows = meta.by_drug.get(q["drug"], np.zeros(0, np.int64))
    gene_rows = np.unique(np.concatenate([meta.by_gene.get(g, np.zeros(0, np.int64)) for g in q["genes"]] or [np.zeros(0, np.int64)]))
    rows = np.intersect1d(drug_rows, gene_rows)
    return {int(meta.ids[r]) for r in rows if live[r]}


def ndcg_at(ranked: list[int], relevant: set[int], k: int = 10) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, pid in enumerate(ranked[:k]) if pid in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def retrieval_scores(searcher: Searcher, questions: list[dict[str, Any]], by_pmid: dict[str, set[int]]
                     ) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, list[float]]]]:
    """The one retrieval loop of the evaluation: each question that has a relevant passage searched in
    every mode; per mode, and per question kind for the mode answers use (`ANSWER_MODE`), the nDCG@10
    and recall@10 of each such question, in question order."""
    by_mode: dict[str, dict[str, list[float]]] = {m: {"recall@10": [], "ndcg@10": []} for m in MODES}
    by_kind: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"recall@10": [], "ndcg@10": []})
    for q in questions:
        relevant = relevant_ids(searcher, q, by_pmid)
        if not relevant:
            continue
        drugs, genes = answerer_question_entities(q)
        for mode, (how, boost) in MODES.items():
            hits = searcher.search(q["question"], 10, mode=how, boost=boost,  # type: ignore[arg-type]
                                   boost_drugs=drugs, boost_genes=genes)
            ranked = [h.passage.id for h in hits]
            figures = {"recall@10": float(any(pid in relevant for pid in ranked)), "ndcg@10": ndcg_at(ranked, relevant)}
            for name, value in figures.items():
                by_mode[mode][name].append(value)
                if mode == ANSWER_MODE:
                    by_kind[q["kind"]][name].append(value)
    return by_mode, dict(by_kind)


def retrieval_figures(searcher: Searcher, shared: Path, by_pmid: dict[str, set[int]] | None = None
                      ) -> dict[str, dict[str, float]]:
    """The retrieval half of `pgxlit eval qa`: per search mode, mean nDCG@10 and recall@10 over the
    development questions that have a relevant passage, and how many those are."""
    by_pmid = passages_by_pmid(searcher.store) if by_pmid is None else by_pmid
    by_mode, _ = retrieval_scores(searcher, build_questions(searcher, shared, by_pmid), by_pmid)
    return {m: {"ndcg@10": _mean(f["ndcg@10"]), "recall@10": _mean(f["recall@10"]), "questions": float(len(f["ndcg@10"]))}
            for m, f in by_mode.items()}


def evaluate_qa(store: Store, settings: Settings, shared: Path, limit: int | None = None) -> dict[str, Any]:
    """Answer every development question and score answers, citations, refusals and retrieval."""
    if not (shared / "gold").is_dir():
        raise FileNotFoundError(f"{shared}/gold not found: pass --shared with the folder holding gold/")
    answerer = Answerer(store, settings)
    searcher = answerer.searcher
    by_pmid = passages_by_pmid(store)
    questions = build_questions(searcher, shared, by_pmid, limit)
    counts: dict[str, float] = defaultdict(float)
    latencies: list[float] = []
    failures: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for q in questions:
        started = time.perf_counter()
        answer = answerer.ask(q["question"])
        latencies.append((time.perf_counter() - started) * 1000)
        kind = q["kind"]
        counts[f"{kind}_questions"] += 1
        if kind == "absent":
            counts["absent_refused"] += answer.refused
            if not answer.refused:
                failures["absent"].append({"question": q["question"], "answer": answer.answer[:200]})
            continue
        counts[f"{kind}_refused"] += answer.refused
        if kind in ("pair", "open"):
            named = not answer.refused and bool(set(q["genes"]) & genes_named(answer.answer))
            counts[f"{kind}_names_gene"] += named
            if not named:
                failures[kind].append({"question": q["question"], "refused": answer.refused,
                                       "answer": (answer.reason or answer.answer)[:160]})
            for c in answer.citations:
                counts["citations"] += 1
                counts["citations_drug_and_gene"] += (q["drug"] in c.passage.drugs and bool(set(q["genes"]) & set(c.passage.genes)))
    retrieval, by_kind = retrieval_scores(searcher, questions, by_pmid)
    answered_pairs = counts["pair_questions"] or 1
    metrics = {
        "answer_names_expected_gene_pair": counts["pair_names_gene"] / answered_pairs,
        "answer_names_expected_gene_open": counts["open_names_gene"] / (counts["open_questions"] or 1),
        "citation_names_drug_and_gene": counts["citations_drug_and_gene"] / (counts["citations"] or 1),
        "refusal_rate_absent_drugs": counts["absent_refused"] / (counts["absent_questions"] or 1),
        "false_refusal_rate": (counts["pair_refused"] + counts["open_refused"] + counts["pmid_refused"])
        / ((counts["pair_questions"] + counts["open_questions"] + counts["pmid_questions"]) or 1),
        "recall@10": _mean(retrieval[ANSWER_MODE]["recall@10"]),
        "ndcg@10": _mean(retrieval[ANSWER_MODE]["ndcg@10"]),
        "answer_latency_p50_ms": float(np.percentile(latencies, 50)) if latencies else 0.0,
        "answer_latency_p95_ms": float(np.percentile(latencies, 95)) if latencies else 0.0,
    }
    natural = evaluate_questions(answerer, read_questions(), limit)
    metrics.update(natural["metrics"])
    return {
        "questions": len(questions), "by_kind": {k: int(v) for k, v in counts.items() if k.endswith("_questions")},
        "metrics": metrics, "natural_language": {k: v for k, v in natural.items() if k != "metrics"},
        "retrieval_modes": {m: {k: _mean(v) for k, v in figs.items()} for m, figs in retrieval.items()},
        "retrieval_by_kind": {kind: {k: _mean(v) for k, v in figs.items()} for kind, figs in by_kind.items()},
        "failures": {kind: items[:25] for kind, items in failures.items()},
    }


def read_questions(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    """The natural-language questions tools/build_qa_questions.py wrote from the gold (header line skipped)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python tools/build_qa_questions.py --shared ../shared`")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if "kind" in r]


def in_scope(q: dict[str, Any], labelled: set[str], stored: Any) -> bool:
    """Whether the store can answer the question at all: the asked drug's own label is stored (or, for a
    list question, at least one expected drug's); an absent name must have nothing stored."""
    kind = q["kind"]
    if kind == "absent":
        return not any(stored(d) for d in q["drugs"])
    if kind == "misspelt":
        return True
    if kind in ("affected_drugs", "class"):
        return bool(set(q["expected_drugs"]) & labelled)
    return bool(q["drugs"]) and set(q["drugs"]) <= labelled


def predicted_action(answer: Any) -> str:
    """'act' when the answer tells the prescriber to do something (from its claims, else its quotes), else 'informative'."""
    claims = getattr(answer, "claims", ())
    if claims:
        applying = [c for c in claims if c.get("applies") is not False] or list(claims)
        return "act" if any(c.get("action") in ACT_CLAIMS for c in applying) else "informative"
    return "act" if any(line.startswith(ACTING) for line in answer.answer.splitlines()) else "informative"


def formatted_items(answer: Any) -> set[str]:
    text = getattr(answer, "formatted", None) or ""
    return {x.strip() for x in re.split(r"[;,\n|]", text) if x.strip() and x.strip() != "none found"}


def evaluate_questions(answerer: Answerer, questions: list[dict[str, Any]], limit: int | None = None) -> dict[str, Any]:
    """Answer the gold-derived questions the store can answer and score them: gene and drug lists
    (precision, recall), actions for phenotype questions, citation support, refusals, formats."""
    catalogue = answerer.catalogue
    labelled = set(catalogue.labels)
    per_kind: dict[str, int] = defaultdict(int)
    tally: dict[str, float] = defaultdict(float)
    failures: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for q in questions:
        if not in_scope(q, labelled, catalogue.stored) or (limit and per_kind[q["kind"]] >= limit):
            continue
        kind = q["kind"]
        per_kind[kind] += 1
        answer = answerer.ask(q["question"])
        miss: dict[str, Any] = {}
        if kind in ("absent", "misspelt"):
            tally["refusals_expected"] += 1
            tally["refusals_right"] += answer.refused
            if kind == "misspelt":
                suggested = tuple(getattr(answer, "suggestions", ()))
                tally["did_you_mean"] += bool(suggested) and suggested[0] == q["suggestion"]
                tally["misspelt"] += 1
                tally["silent_guesses"] += not answer.refused
            if not answer.refused or (kind == "misspelt" and q["suggestion"] not in getattr(answer, "suggestions", ())):
                miss = {"refused": answer.refused, "reason": answer.reason, "suggestions": getattr(answer, "suggestions", ())}
        else:
            tally["answerable"] += 1
            tally["falsely_refused"] += answer.refused
            if answer.refused:
                miss = {"refused": True, "reason": answer.reason}
            if kind in ("test", "issue", "alternatives", "format"):
                expected = set(q["genes"])
                got = formatted_items(answer) if kind == "format" else set(getattr(answer, "genes", ()))
                tally["gene_tp"] += len(got & expected)
                tally["gene_fp"] += len(got - expected)
                tally["gene_fn"] += len(expected - got)
                if kind == "format":
                    tally["format_questions"] += 1
                    tally["format_honoured"] += bool(got) and "[" not in (getattr(answer, "formatted", None) or "[")
                if got != expected and not miss:
                    miss = {"expected": sorted(expected), "got": sorted(got)}
            if kind in ("affected_drugs", "class"):
                expected = set(q["expected_drugs"]) & labelled
                got = set(getattr(answer, "drugs", ())) & labelled
                tally["drug_tp"] += len(got & expected)
                tally["drug_fp"] += len(got - expected)
                tally["drug_fn"] += len(expected - got)
                if got != expected and not miss:
                    miss = {"expected": sorted(expected), "got": sorted(got)}
            if kind == "phenotype":
                tally["phenotype_questions"] += 1
                right = not answer.refused and predicted_action(answer) == q["action"]
                tally["action_right"] += right
                if not right and not miss:
                    miss = {"expected": q["action"], "got": predicted_action(answer), "answer": answer.answer[:160]}
            for c in answer.citations:
                tally["citations"] += 1
                own = catalogue.drug_of_set.get(c.passage.set_id or "")
                drugs = set(q.get("drugs") or q.get("expected_drugs") or ())
                about_drug = own in drugs if own else bool(drugs & set(c.passage.drugs))
                genes = set(q.get("genes") or ())
                tally["citations_supported"] += about_drug and (not genes or bool(genes & set(c.passage.genes)))
        if miss:
            failures[kind].append({"question": q["question"], **miss})
    ratio = lambda a, b: tally[a] / tally[b] if tally[b] else 0.0  # noqa: E731
    precision = lambda tp, fp: tally[tp] / (tally[tp] + tally[fp]) if tally[tp] + tally[fp] else 0.0  # noqa: E731
    metrics = {
        "nl_gene_list_precision": precision("gene_tp", "gene_fp"),
        "nl_gene_list_recall": precision("gene_tp", "gene_fn"),
        "nl_drug_list_precision": precision("drug_tp", "drug_fp"),
        "nl_drug_list_recall": precision("drug_tp", "drug_fn"),
        "nl_action_correctness": ratio("action_right", "phenotype_questions"),
        "nl_citation_support": ratio("citations_supported", "citations"),
        "nl_refusal_accuracy": ratio("refusals_right", "refusals_expected"),
        "nl_did_you_mean_accuracy": ratio("did_you_mean", "misspelt"),
        "nl_false_refusal_rate": ratio("falsely_refused", "answerable"),
        "nl_format_honoured": ratio("format_honoured", "format_questions"),
    }
    return {"metrics": metrics, "scored_by_kind": dict(per_kind), "questions_in_file": len(questions),
            "failures": {k: v[:25] for k, v in failures.items()}}


def genes_named(text: str) -> set[str]:
    """HGNC symbols an answer names, aliases included ("HER2-positive" names ERBB2)."""
    from pgxlit.extract.pipeline import PgxEntityRecognizer
    from pgxlit.extract.lexicons import entity_names

    global _RECOGNISER
    if _RECOGNISER is None:
        _RECOGNISER = PgxEntityRecognizer()
    return entity_names(_RECOGNISER.find(text))[1]


_RECOGNISER = None


def answerer_question_entities(q: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from pgxlit.qa.question import read_question

    read = read_question(q["question"])
    return read.drugs, read.genes


def _mean(xs: list[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else 0.0
