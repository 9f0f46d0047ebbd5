"""All pgxlit settings in one typed object.

Values come, highest priority first, from: keyword arguments, environment
variables (PGXLIT_*), a TOML config file (PGXLIT_CONFIG, else
$PGXLIT_HOME/config.toml), then the defaults below, which point at the real
public APIs.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

OPENFDA_URL = "https://api.fda.gov"
DAILYMED_URL = "https://dailymed.nlm.nih.gov/dailymed/services/v2"
EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
DAILYMED_FILES_URL = "https://dailymed.nlm.nih.gov/dailymed/getFile.cfm"


def _default_home() -> Path:
    return Path(os.environ.get("PGXLIT_HOME", Path.home() / ".pgxlit")).expanduser()


def config_file_path() -> Path:
    """Where the optional TOML config file is looked for."""
    explicit = os.environ.get("PGXLIT_CONFIG")
    return Path(explicit).expanduser() if explicit else _default_home() / "config.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PGXLIT_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Data folder")
    db_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite under home")

    openfda_url: str = OPENFDA_URL
    dailymed_url: str = DAILYMED_URL
    eutils_url: str = EUTILS_URL
    dailymed_files_url: str = Field(
        DAILYMED_FILES_URL, description="DailyMed download endpoint for one SPL version (zip)"
    )
    openfda_api_key: str | None = None
    ncbi_api_key: str | None = None
    ncbi_email: str | None = None
    ncbi_tool: str = "pgxlit"

    # Client-side rate limits (requests per second) and caps.
    openfda_rate_per_min: float = 240.0
    openfda_daily_cap_without_key: int = 1000
    dailymed_rate_per_sec: float = 5.0
    eutils_rate_per_sec: float | None = Field(
        None, description="Default: 3/s, or 10/s with an NCBI API key"
    )

    http_timeout_s: float = 30.0
    http_max_retries: int = 6
    http_backoff_base_s: float = 0.5
    http_backoff_max_s: float = 60.0

    extract_model: str = Field(
        "auto",
        description='Statistical NER after the rules: "auto" (the shipped model when present), '
        '"none" (rules only) or the path of a model folder',
    )

    extract_relations: str = Field(
        "auto",
        description='Relation classifier: "auto" (the shipped sparse model when present), "rules", "transformer" '
        "(the fine-tuned MiniLM classifier in corpora/models/pgx_rel_tf, blended with the sparse one: slower, needs torch), "
        "or a model folder (sparse, or a transformer folder whose meta.json says so)",
    )

    # Search index (index/) and answering (qa/).
    embed_model: str = Field(
        "minilm",
        description='Sentence embedder: "minilm" (all-MiniLM-L6-v2 shipped on PyPI), a sentence-transformers '
        "model name (needs a model hub) or a local model folder",
    )
    embed_device: str = Field("cpu", description='torch device for embeddings, e.g. "cpu" or "cuda"')
    embed_batch_size: int = 64
    index_kind: str = Field(
        "auto", description='"flat" (exact), "hnsw", "ivfpq", or "auto": flat below index_flat_max vectors'
    )
    index_flat_max: int = 200_000
    index_window_sentences: int = Field(3, description="Sentences per passage window")
    search_candidates: int = Field(100, description="Hits taken from each of dense and lexical before fusion")
    search_rrf_k: int = 60
    search_entity_boost: float = Field(0.5, description="Fused-score boost when a passage names the asked drug and gene")
    search_section_prior: bool = Field(True, description="Rank boxed warnings, contraindications and dosing above other text")
    qa_top_k: int = 15
    qa_max_sentences: int = 4
    qa_answerer: str = Field("extractive", description='"extractive" (offline, default) or "llm"')
    llm_base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (vLLM, llama.cpp, Ollama)")
    llm_model: str = "gpt-4o-mini"
    llm_api_key: str | None = None
    llm_timeout_s: float = 60.0

    openfda_page_size: int = 100
    eutils_batch_size: int = 200
    raw_max_bytes: int = Field(
        64 * 1024 * 1024, description="Files loaded from disk above this size keep no raw copy"
    )

    # Prescribing check (issue 7): which triples feed alerts, where the compiled knowledge is cached.
    check_min_confidence: float = Field(
        0.3, description="Label triples at or above this confidence feed alerts (accepted ones always do)"
    )
    check_min_confidence_pubmed: float = Field(
        0.7, description="Abstract triples at or above this confidence support alerts (accepted ones always do)"
    )
    check_knowledge_path: Path | None = Field(
        None, description="Compiled check knowledge (gzipped JSON); default $PGXLIT_HOME/check_knowledge.json.gz"
    )
    check_refresh_seconds: float = Field(
        10.0, description="How often a running service looks for new triples to recompile"
    )

    # Web app and HTTP API (issue 8): reads are open, every write needs a token.
    web_token: str | None = Field(
        None, description="Shared curator token for writes (review, re-extraction); unset: `pgxlit serve` makes one "
        "per run and prints it"
    )
    web_user_tokens: dict[str, str] = Field(
        default_factory=dict, description="Personal curator tokens, name -> token; the audit log then names the "
        "curator from the token instead of the name typed in"
    )
    web_secret: str | None = Field(
        None, description="Key that signs session cookies and CSRF tokens; unset: a new random key per process"
    )
    web_timeout_s: float = Field(30.0, description="An API request that takes longer answers 504")
    web_digest_timeout_s: float = Field(
        180.0, description="Building a digest of every stored label may take longer than other requests; it is cached"
    )
    web_max_question_chars: int = Field(500, description="Longer questions are refused with 422")
    web_secure_cookies: bool = Field(
        False, description="Mark session cookies Secure (set it when pgxlit serve runs behind TLS)"
    )
    web_max_body_bytes: int = Field(1_000_000, description="Larger request bodies are refused with 413")
    web_max_json_depth: int = Field(32, description="JSON bodies nested deeper are refused with 400")

    # Scaling out (issue 9): where extraction and embedding run.
    engine: str = Field("local", description='"local" (this machine) or "ray" (a local Ray, or the cluster at ray_address)')
    engine_workers: int = Field(0, description="Worker processes; 0: 1 for local, 2 for ray")
    engine_shard_size: int = Field(256, description="Abstracts per shard sent to a worker (labels: 4 versions)")
    ray_address: str | None = Field(None, description='Ray cluster to join, e.g. "auto" or "ray://head:10001"; unset: start a local Ray')
    extract_pgx_prefilter: bool = Field(
        False, description="Extract only abstracts that name a drug and a genetic factor or carry a PGx MeSH heading"
    )
    load_workers: int = Field(1, description="Processes that parse PubMed XML files ahead of the store writer in `pgxlit load`")

    # Index at scale (issue 9): IVF-PQ trained once on a sample, filled shard by shard and merged.
    index_nlist: int = Field(0, description="IVF-PQ inverted lists; 0: about 4·√(vectors), from 16 up to 65,536")
    index_nprobe: int = Field(32, description="IVF-PQ lists scanned per query: more finds more true neighbours, slower")
    index_train_max: int = Field(
        1_000_000, description="At most this many sampled vectors train the IVF-PQ quantizers (64 per list wanted)"
    )
    index_shard_passages: int = Field(4096, description="Passages embedded and encoded per index shard (one worker job)")

    @property
    def resolved_db_url(self) -> str:
        return self.db_url or f"sqlite:///{self.home / 'pgxlit.sqlite'}"

    @property
    def resolved_eutils_rate(self) -> float:
        if self.eutils_rate_per_sec:
            return self.eutils_rate_per_sec
        return 10.0 if self.ncbi_api_key else 3.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file_path())
        return (init_settings, env_settings, toml)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()

