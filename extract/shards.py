"""Extraction spread over an execution engine: the shard functions workers run, and the driver.

The functions here are module-level so Ray and spawned processes can pickle them by name;
`pgxlit.engine` runs them without knowing what they do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pgxlit.engine import Doc, ExecutionEngine, shard_documents, shard_name
from pgxlit.records import Abstract, Triple
from pgxlit.store import Store


# ---- PGx pre-filter ------------------------------------------------------------
# MeSH headings that mark a study of genetic variation in drug response (descriptor names as PubMed writes them).
PGX_MESH = frozenset({
    "Pharmacogenetics", "Pharmacogenomic Variants", "Pharmacogenomic Testing", "Polymorphism, Single Nucleotide",
    "Polymorphism, Genetic", "Genotype", "Alleles", "Gene Frequency", "Genetic Variation", "Haplotypes",
    "Genetic Predisposition to Disease", "Cytochrome P-450 Enzyme System", "Precision Medicine",
})
GENETIC_LABELS = frozenset({"GENE", "VARIANT", "ALLELE", "PHENOTYPE"})


def pgx_relevant(abstract: Abstract) -> bool:
    """Could this abstract yield a PGx triple? A PGx MeSH heading, or a drug and a genetic factor named in it.

    A triple needs a drug and a gene, variant, allele or metabolizer status in one sentence, so an
    abstract whose text names no drug or no genetic factor (lexicons and grammars, the cheap part of
    extraction) gives none: the NER model and relation classifier never need to see it.
    """
    if any(m.split("/")[0] in PGX_MESH or m.startswith("Cytochrome P-450 CYP") for m in abstract.mesh_terms):
        return True
    from pgxlit.extract.triples import abstract_text

    labels = {m.label for m in _recognizer().find(abstract_text(abstract))}
    return "DRUG" in labels and bool(labels & GENETIC_LABELS)


_RECOGNIZER: Any = None


def _recognizer() -> Any:
    global _RECOGNIZER
    if _RECOGNIZER is None:
        from pgxlit.extract.pipeline import PgxEntityRecognizer

        _RECOGNIZER = PgxEntityRecognizer()
    return _RECOGNIZER


# ---- the work functions that run on workers ------------------------------------
def extract_shard(shard: list[Doc]) -> list[tuple[str, str, list[Triple]]]:
    """The same code `pgxlit extract` runs locally, on one shard."""
    from pgxlit.extract.triples import iter_triples

    try:
        return list(iter_triples(shard))
    except Exception as exc:  # a worker's traceback alone does not say which documents
        raise RuntimeError(f"extraction failed in shard {shard_name(shard)}: {exc}") from exc


def extract_relevant_shard(shard: list[Doc]) -> list[tuple[str, str, list[Triple] | None]]:
    """extract_shard for the abstracts `pgx_relevant` keeps; the others come back with None."""
    keep = [d for d in shard if not isinstance(d[2], Abstract) or pgx_relevant(d[2])]
    done = {key: (key, sha, triples) for key, sha, triples in extract_shard(keep)} if keep else {}
    return [done.get(key, (key, sha, None)) for key, sha, _ in shard]


def extract_job(job: tuple[list[Doc], str | None, bool]) -> list[tuple[str, str, list[Triple] | None]]:
    """One shard on a worker: (documents, handover folder or None, pre-filter?). Label sections go
    through the worker's memo of the rule pipeline, which leaves their annotations in the folder."""
    from pgxlit.extract.pipeline import remembering
    from pgxlit.extract.run import label_memo

    shard, handover, prefilter = job
    with remembering(label_memo(Path(handover) if handover else None)):
        return extract_relevant_shard(shard) if prefilter else extract_shard(shard)  # type: ignore[return-value]


def run_extraction_on(
    engine: ExecutionEngine, store: Store, *, force: bool = False, shard_size: int = 256,
    prefilter: bool = False, progress: Callable[[int, int | None], None] | None = None,
    handover: Path | None = None,
) -> dict[str, int]:
    """`run_extraction` with the per-document work spread over the engine's workers.

    Each shard is written in one transaction by the driver (`Store.replace_triples_many`: bulk inserts for
    documents with no stored triples), so a killed run resumes at a shard. With
    `prefilter`, abstracts `pgx_relevant` rejects are counted and left unextracted (not marked
    done), so a later run without the filter still reaches them. With `handover`, the workers leave
    their rule annotations of label sections there for `pgxlit index` (`run.run_extraction`).
    """
    from pgxlit.extract.pipeline import extractor_name
    from pgxlit.extract.run import pending_documents, tally

    extractor = extractor_name()
    total = store.count_documents()
    counts = {"documents": total, "extracted": 0, "already_current": 0, "filtered_out": 0, "triples": 0,
              "pgx_triples": 0, "workers": engine.workers}

    pending = pending_documents(store, extractor, force, counts, progress)
    folder = str(handover) if handover is not None else None
    # At least four shards a worker: abstracts come last, and one large last shard would leave the
    # other workers idle while it runs (the demo's 361 abstracts made shards of 256 and 105).
    size = max(16, min(shard_size, -(-total // (4 * engine.workers))))
    jobs = ((shard, folder, prefilter) for shard in shard_documents(pending, size))
    for results in engine.map(extract_job, jobs):
        # One transaction per shard, and documents never extracted before go in by multi-row inserts:
        # the driver's writes, not the workers, limit a large run.
        with store.transaction() as session:
            store.replace_triples_many(session, extractor, [r for r in results if r[2] is not None])
        for _doc_key, _sha, triples in results:
            if triples is None:  # the pre-filter turned it away on the worker
                counts["filtered_out"] += 1
            else:
                tally(counts, triples)
            if progress:
                progress(1, total)
    return counts
