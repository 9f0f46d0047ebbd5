"""The PGx knowledge layer: cited claims compiled from pgxlit's own stored triples.

Sits above extract and below qa, check, digest and web: everything that says what to do with a
drug and a genotype reads these claims, so they all say the same thing with the same sources.
Curated tables (PharmGKB, CPIC, FDA's biomarker table) never feed it; they only measure it.

API (small on purpose):

    from pgxlit.knowledge import compile_claims, Claim

    kb = compile_claims(store, settings)       # KnowledgeBase; incremental: only drugs whose
                                               # triples changed are recompiled (cached under
                                               # $PGXLIT_HOME/knowledge_claims.<reader>.json.gz);
                                               # unchanged store: served from the cache unread
    kb = compile_claims(store, settings, reader)   # with a GenotypeReader (the check passes
                                               # check.knowledge.CpicReader) star alleles and
                                               # diplotypes are resolved to CPIC names
    kb.claims_for("codeine") -> list[Claim]    # one drug's claims, strongest first
    kb.claims_for_gene("CYP2D6") -> list[Claim]  # every drug's claims for one gene
    kb.coverage("simvastatin", "SLCO1B1")      # "label" | "literature_only" | "not_covered"
    kb.drugs() -> list[str]
    applies(claim, call) -> str | None         # how a claim applies to a genotype call (anything
                                               # with gene, phenotype, alleles, diplotype, source,
                                               # reference_genotype: check.genotype.GeneCall), or None
    applies_to_phenotype(claim, "Poor Metabolizer") -> bool   # for a phenotype named in a question
    claim.to_json(applies=...)                 # {drug, gene, phenotype, action, severity,
                                               #  testing_level, status, applies, citations, ...}

A `Claim` is one drug–gene–group–action: `group` is allele-exact ("phenotype:Poor Metabolizer",
"function:No" with copies, "deficiency:partial", "hla:HLA-B*57:01", "diplotype:*2/*2", "gene");
`action` is avoid | alternative | dose_change | test | monitor | informative; `strength` is the
source tier of pgxlit.sections (boxed_warning > contraindication > dosage > pharmacogenomics >
warnings > label > literature); `citations` hold each source sentence once with all the places
(label versions, generics, set ids, abstracts) that state it.
"""

from pgxlit.knowledge.applies import applies, applies_to_phenotype
from pgxlit.knowledge.base import KnowledgeBase, compile_claims, compile_facts
from pgxlit.knowledge.groups import GenotypeReader
from pgxlit.knowledge.model import ACTIONS, SEVERITIES, STATUSES, TESTING_LEVELS, Citation, Claim, Place

__all__ = ["ACTIONS", "SEVERITIES", "STATUSES", "TESTING_LEVELS", "Citation", "Claim", "GenotypeReader", "KnowledgeBase",
           "Place", "applies", "applies_to_phenotype", "compile_claims", "compile_facts"]
