"""A laboratory's genotype -> CPIC's phenotype: the reader lives in `pgxlit.knowledge.genotype`.

It moved there so that ask (qa, below check) reads a genotype in a question with the very tables
and code the check reads a patient's result with. This module keeps the check's import path.
"""

from __future__ import annotations

from pgxlit.knowledge.genotype import (
    INDETERMINATE,
    NORMAL_PHENOTYPES,
    TABLE_FILE,
    AlleleReading,
    GeneCall,
    GenotypeError,
    GenotypeTable,
    Reading,
    canonical_phenotype,
    default_dir,
    load_table,
    lookup_key,
    normalise_hla,
)

__all__ = ["INDETERMINATE", "NORMAL_PHENOTYPES", "TABLE_FILE", "AlleleReading", "GeneCall", "GenotypeError",
           "GenotypeTable", "Reading", "canonical_phenotype", "default_dir", "load_table", "lookup_key",
           "normalise_hla"]
