"""All pgxlit settings in one typed object, nested by stage.

Values come, highest priority first, from: keyword arguments, environment variables, a TOML
file (PGXLIT_CONFIG, else $PGXLIT_HOME/config.toml), then the defaults below, which point at the
real public APIs.

Every setting has a nested place (`settings.index.nprobe`, `[index] nprobe = 64` in the TOML
file) and one flat name (`index_nprobe`): the environment variable is the flat name in capitals
after `PGXLIT_` (`PGXLIT_INDEX_NPROBE`), and keyword arguments and the TOML file accept it too.
A key the settings do not know fails with one line naming it, instead of being ignored.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

OPENFDA_URL = "https://api.fda.gov"
DAILYMED_URL = "https://dailymed.nlm.nih.gov/dailymed/services/v2"
EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
DAILYMED_FILES_URL = "https://dailymed.nlm.nih.gov/dailymed/getFile.cfm"
ENV_PREFIX = "PGXLIT_"


class SettingsError(ValueError):
    """A settings file or value pgxlit cannot use; the message names it and says what to do."""


def _default_home() -> Path:
    return Path(os.environ.get("PGXLIT_HOME", Path.home() / ".pgxlit")).expanduser()


def config_file_path() -> Path:
    """Where the optional TOML config file is looked for."""
    explicit = os.environ.get("PGXLIT_CONFIG")
    return Path(explicit).expanduser() if explicit else _default_home() / "config.toml"


def _flat(name: str) -> Any:
    """Marks a field whose flat name is not `<group>_<field>` (kept from earlier releases)."""
    return {"flat": name}


class Group(BaseModel):
    """One stage's settings; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    flat_prefix: ClassVar[str] = ""


class IngestSettings(Group):
    """Where the crawlers fetch from, how fast, and how files are loaded."""

    flat_prefix: ClassVar[str] = ""
    openfda_url: str = Field(OPENFDA_URL, description="openFDA API root (the replay server's URL offline)")
    dailymed_url: str = Field(DAILYMED_URL, description="DailyMed web services v2 root")
    dailymed_files_url: str = Field(DAILYMED_FILES_URL, description="DailyMed download endpoint for one SPL version (zip)")
    eutils_url: str = Field(EUTILS_URL, description="NCBI E-utilities root")
    openfda_api_key: str | None = Field(None, description="openFDA API key: higher daily limits")
    ncbi_api_key: str | None = Field(None, description="NCBI API key: 10 requests/s instead of 3")
    ncbi_email: str | None = Field(None, description="Contact e-mail NCBI asks E-utilities clients to send")
    ncbi_tool: str = Field("pgxlit", description="Tool name sent to E-utilities")
    openfda_rate_per_min: float = Field(240.0, description="Client-side openFDA request rate")
    openfda_daily_cap_without_key: int = Field(1000, description="openFDA requests per day without an API key")
    dailymed_rate_per_sec: float = Field(5.0, description="Client-side DailyMed request rate")
    eutils_rate_per_sec: float | None = Field(None, description="E-utilities rate; default 3/s, or 10/s with an NCBI API key")
    openfda_page_size: int = Field(100, description="openFDA results per page")
    eutils_batch_size: int = Field(200, description="PMIDs per EFetch request")
    raw_max_bytes: int = Field(64 * 1024 * 1024, description="Files loaded from disk above this size keep no raw copy")
    load_workers: int = Field(1, description="Processes that parse PubMed XML files ahead of the store writer in `pgxlit load`")


class HttpSettings(Group):
    """Timeouts and retries of every outgoing request."""

    flat_prefix: ClassVar[str] = "http_"
    timeout_s: float = Field(30.0, description="Seconds before a request times out")
    max_retries: int = Field(6, description="Retries after 429, 5xx and network errors")
    backoff_base_s: float = Field(0.5, description="First backoff; doubled on each retry, with jitter")
    backoff_max_s: float = Field(60.0, description="Longest wait between retries (Retry-After is honoured up to it)")


class ExtractSettings(Group):
    """Which models find entities and relations."""

    flat_prefix: ClassVar[str] = "extract_"
    model: str = Field("auto", description='Statistical NER after the rules: "auto" (the shipped model when present), '
                       '"none" (rules only) or the path of a model folder')
    relations: str = Field("auto", description='Relation classifier: "auto" (the shipped sparse model), "rules", '
                           '"transformer" (the fine-tuned MiniLM blended with the sparse one: slower, needs torch), '
                           "or a model folder")
    scheme_ner: str = Field("auto", description="Entities in a gold corpus's own scheme (`annotate --scheme "
                            'pgxcorpus|biored`, `eval extraction --gold pgxcorpus|biored`): "auto" (per scheme, the '
                            'shipped model that measures best on its test fold: the vote for PGxCorpus, the CRF for '
                            'BioRED), "crf" (the CRF tagger '
                            "corpora/models/<scheme>_crf, nested levels for PGxCorpus; needs python-crfsuite), "
                            '"typer" (rules + NER re-typed by the linear typer <scheme>_types), "span" (the MiniLM '
                            'span model corpora/models/<scheme>_span; needs torch) or "vote" (the CRF and the span '
                            'model voted, rule in corpora/models/<scheme>_vote; needs both)')
    pgx_prefilter: bool = Field(False, description="Extract only abstracts that name a drug and a genetic factor or "
                                "carry a PGx MeSH heading")


class EmbedSettings(Group):
    """The sentence embedder behind dense search."""

    flat_prefix: ClassVar[str] = "embed_"
    model: str = Field("minilm", description='"minilm" (all-MiniLM-L6-v2 shipped on PyPI), a sentence-transformers '
                       "model name (needs a model hub) or a local model folder")
    device: str = Field("cpu", description='torch device, e.g. "cpu" or "cuda"')
    batch_size: int = Field(64, description="Passages embedded per batch")
    runtime: str = Field("auto", description='"auto" (ONNX Runtime for the shipped MiniLM on CPU, sentence-transformers '
                         'otherwise), "onnx" or "sentence-transformers"')
    quantize: bool = Field(True, description="int8 ONNX model of the shipped MiniLM (minilm-int8v3 in the index): about 2x "
                           "the fp32 ONNX passages per CPU-s, cosine to fp32 >= 0.99 on every demo passage (docs/speed.md); "
                           "changing it needs `pgxlit index --rebuild`; false: the fp32 export")


class IndexSettings(Group):
    """How passages are cut and the dense index is built."""

    flat_prefix: ClassVar[str] = "index_"
    kind: str = Field("auto", description='"flat" (exact), "hnsw", "ivfpq", or "auto": flat below flat_max vectors')
    flat_max: int = Field(200_000, description="Largest corpus that gets an exact index under kind=auto")
    window_sentences: int = Field(3, description="Sentences per passage window")
    embed_boilerplate: bool = Field(False, description="Embed patient leaflets and keep packaging/storage sections "
                                    "(by default they are BM25-only or cut: embedding is the costly step)")
    triple_vectors: str = Field("facts", description='What a PGx triple\'s entry is embedded from: "facts" (its facts in '
                                'words: drug, gene, variant, relation, effect; short, and shared by repeated triples), '
                                '"text" (facts and evidence sentence) or "none" (BM25 only: dense search reaches the '
                                'triple through its passage\'s vector)')
    nlist: int = Field(0, description="IVF-PQ inverted lists; 0: about 4·√(vectors), from 16 up to 65,536")
    nprobe: int = Field(32, description="IVF-PQ lists scanned per query: more finds more true neighbours, slower")
    train_max: int = Field(1_000_000, description="Most sampled vectors that train the IVF-PQ quantizers")
    shard_passages: int = Field(4096, description="Passages embedded and encoded per index shard (one worker job)")


class SearchSettings(Group):
    """Hybrid ranking: dense + BM25 fused, with priors."""

    flat_prefix: ClassVar[str] = "search_"
    candidates: int = Field(100, description="Hits taken from each of dense and lexical before fusion")
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant")
    entity_boost: float = Field(0.5, description="Fused-score boost when a passage names the asked drug and gene")
    section_prior: bool = Field(True, description="Rank boxed warnings, contraindications and dosing above other text")


class QaSettings(Group):
    """How answers are composed."""

    flat_prefix: ClassVar[str] = "qa_"
    top_k: int = Field(15, description="Passages read per question")
    max_sentences: int = Field(4, description="Quoted sentences per answer")
    answerer: str = Field("extractive", description='"extractive" (offline, deterministic) or "llm"')


class LlmSettings(Group):
    """An OpenAI-compatible chat model for qa.answerer = "llm"."""

    flat_prefix: ClassVar[str] = "llm_"
    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8080/v1 (vLLM, llama.cpp, Ollama)")
    model: str = Field("gpt-4o-mini", description="Model name the server knows")
    api_key: str | None = Field(None, description="Key for the server, if it needs one")
    timeout_s: float = Field(60.0, description="Seconds before a model call is abandoned")


class CheckSettings(Group):
    """Which triples feed prescribing alerts, and where the compiled knowledge is cached."""

    flat_prefix: ClassVar[str] = "check_"
    min_confidence: float = Field(0.3, description="Label triples at or above this confidence feed alerts "
                                  "(accepted ones always do)")
    min_confidence_pubmed: float = Field(0.7, description="Abstract triples at or above this confidence support "
                                         "alerts (accepted ones always do)")
    knowledge_path: Path | None = Field(None, description="Compiled knowledge cache (gzipped JSON); default "
                                        "$PGXLIT_HOME/check_knowledge.json.gz")
    refresh_seconds: float = Field(10.0, description="How often a running service looks for new triples")


class WebSettings(Group):
    """The web app and HTTP API: reads are open, every write needs a token."""

    flat_prefix: ClassVar[str] = "web_"
    token: str | None = Field(None, description="Shared curator token for writes (16+ characters); unset: "
                              "`pgxlit serve` makes one per run and prints it")
    user_tokens: dict[str, str] = Field(default_factory=dict, description="Personal curator tokens, name -> token")
    secret: str | None = Field(None, description="Key that signs session cookies and CSRF tokens; unset: a new "
                               "random key per process")
    secure_cookies: bool = Field(False, description="Mark cookies Secure (set it when TLS is in front)")
    timeout_s: float = Field(30.0, description="An API request that takes longer answers 504")
    digest_timeout_s: float = Field(180.0, description="Building the digest of every stored label may take longer")
    max_question_chars: int = Field(500, description="Longer questions are refused with 422")
    max_body_bytes: int = Field(1_000_000, description="Larger request bodies are refused with 413")
    max_json_depth: int = Field(32, description="JSON bodies nested deeper are refused with 400")
    workers: int | None = Field(None, description="Worker processes that answer asks and listings, each with the "
                                "index and model loaded once; unset: two per core (at most 4); 0: in the server process")
    queue: int = Field(32, description="Asks and listings that may wait for a worker; more are refused with 503 "
                       "and Retry-After")
    answer_cache: int = Field(256, description="Answers kept until the next write to the store or index; 0: none")
    check_cache: int = Field(1024, description="Check answers kept by drug and results until the check's knowledge "
                             "changes (a refresh after a review or load); 0: none")
    server_url: str | None = Field("http://127.0.0.1:8000", description="Where `pgxlit ask` looks for a running "
                                   "`pgxlit serve`; it is used only when it serves the same store (else, or with "
                                   "--local, the question is answered locally); empty: never")
    connect_timeout_s: float = Field(0.3, description="How long `pgxlit ask` waits for that server to answer "
                                     "/api/health before answering locally")
    worker_idle: bool = Field(True, description="Once loaded, the ask and digest workers run under Linux's "
                              "SCHED_IDLE: they use any CPU the server process (checks, reviews, HTTP) does not "
                              "want and yield it at once when it does. On a machine shared with CPU-bound jobs the asks wait for "
                              "those jobs too (docs/web.md): set it false there; false, or where not allowed: worker_nice")
    worker_nice: int = Field(5, description="Niceness added to the ask workers once loaded when worker_idle is "
                             "off, so the server process (checks, reviews) is scheduled first; 0: same priority")
    switch_interval_ms: float = Field(1.0, description="How long a server thread may hold the GIL while another "
                                      "waits (Python's default is 5): a check waits less behind a knowledge refresh")
    split_cpus: bool = Field(False, description="With 2+ CPUs, the server process (HTTP, checks, reviews) runs on "
                             "the first CPU it may use and the ask and digest workers on the others (for machines "
                             "where worker_idle is not allowed); false: all share every CPU (docs/speed.md)")


class EngineSettings(Group):
    """Where extraction and embedding run."""

    flat_prefix: ClassVar[str] = "engine_"
    kind: str = Field("local", description='"local" (this machine) or "ray"', json_schema_extra=_flat("engine"))
    workers: int = Field(0, description="Worker processes; 0: 1 for local, 2 for ray")
    shard_size: int = Field(256, description="Abstracts per shard sent to a worker (labels: 4 versions)")
    ray_address: str | None = Field(None, description='Ray cluster to join, e.g. "auto"; unset: start a local Ray',
                                     json_schema_extra=_flat("ray_address"))


GROUPS: dict[str, type[Group]] = {
    "ingest": IngestSettings, "http": HttpSettings, "extract": ExtractSettings, "embed": EmbedSettings,
    "index": IndexSettings, "search": SearchSettings, "qa": QaSettings, "llm": LlmSettings,
    "check": CheckSettings, "web": WebSettings, "engine": EngineSettings,
}


def _flat_names() -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    for group, model in GROUPS.items():
        for field_name, info in model.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            names[str(extra.get("flat") or model.flat_prefix + field_name)] = (group, field_name)
    return names


FLAT: dict[str, tuple[str, str]] = _flat_names()
TOP = ("home", "db_url")


def _fold(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Flat names into their groups; anything unknown is an error naming the key."""
    nested: dict[str, Any] = {}
    for key, value in data.items():
        if key in TOP:
            nested[key] = value
        elif key in GROUPS and isinstance(value, dict | BaseModel):
            nested.setdefault(key, {})
            part = value.model_dump() if isinstance(value, BaseModel) else value
            for sub in part:
                if sub not in GROUPS[key].model_fields:
                    raise SettingsError(_unknown(f"{key}.{sub}", where))
            nested[key] = {**nested[key], **part}
        elif key in FLAT:
            group, field_name = FLAT[key]
            nested.setdefault(group, {})
            if isinstance(nested[group], BaseModel):
                nested[group] = nested[group].model_dump()
            nested[group][field_name] = value
        elif key in GROUPS:
            raise SettingsError(f"setting '{key}' {where} must be a table of settings, not {value!r}")
        else:
            raise SettingsError(_unknown(key, where))
    return nested


def _unknown(key: str, where: str) -> str:
    known = [*TOP, *FLAT, *(f"{g}.{f}" for g, m in GROUPS.items() for f in m.model_fields)]
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else "; `pgxlit doctor --settings` lists every setting"
    return f"unknown setting '{key}' {where}{hint}"


def _env_values() -> dict[str, Any]:
    """PGXLIT_<FLAT NAME> variables; other PGXLIT_ variables (PGXLIT_CONFIG, test helpers) are not settings."""
    found: dict[str, Any] = {}
    for flat in (*TOP, *FLAT):
        raw = os.environ.get(ENV_PREFIX + flat.upper())
        if raw is None:
            continue
        value: Any = raw
        if raw[:1] in "{[":
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SettingsError(f"{ENV_PREFIX}{flat.upper()} is not valid JSON: {exc}") from exc
        found[flat] = value
    return found


def _file_values(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from exc


class Settings(BaseModel):
    """Every setting, grouped by stage. Build with `Settings(**overrides)` or `get_settings()`."""

    model_config = ConfigDict(extra="forbid")

    home: Path = Field(default_factory=_default_home, description="Data folder")
    db_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite under home")
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    qa: QaSettings = Field(default_factory=QaSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    check: CheckSettings = Field(default_factory=CheckSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)

    def __init__(self, **overrides: Any) -> None:
        path = config_file_path()
        layers = [_fold(_file_values(path), f"in {path}"), _fold(_env_values(), "in the environment"),
                  _fold(overrides, "given to Settings()")]
        merged: dict[str, Any] = {}
        for layer in layers:
            for key, value in layer.items():
                if key in GROUPS and isinstance(merged.get(key), dict):
                    merged[key] = {**merged[key], **value}
                else:
                    merged[key] = value
        try:
            super().__init__(**merged)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise SettingsError(f"setting '{where}': {first.get('msg')} (got {first.get('input')!r})") from exc

    @model_validator(mode="after")
    def _home_expanded(self) -> Settings:
        self.home = Path(self.home).expanduser()
        return self

    def replace(self, **overrides: Any) -> Settings:
        """A copy with some settings changed, by flat or nested name (validated like any other)."""
        data = self.model_dump()
        for key, value in _fold(overrides, "given to replace()").items():
            data[key] = {**data[key], **value} if key in GROUPS else value
        return Settings.model_validate(data)

    @property
    def resolved_db_url(self) -> str:
        return self.db_url or f"sqlite:///{self.home / 'pgxlit.sqlite'}"

    @property
    def resolved_eutils_rate(self) -> float:
        if self.ingest.eutils_rate_per_sec:
            return self.ingest.eutils_rate_per_sec
        return 10.0 if self.ingest.ncbi_api_key else 3.0

    def __getattr__(self, name: str) -> Any:
        if name in FLAT:
            group, field_name = FLAT[name]
            raise AttributeError(f"settings.{name} is now settings.{group}.{field_name}")
        return super().__getattr__(name)  # type: ignore[misc]


SECRET_FIELDS = ("openfda_api_key", "ncbi_api_key", "llm_api_key", "web_token", "web_user_tokens", "web_secret")


def settings_table(settings: Settings) -> list[dict[str, str]]:
    """Every setting with its environment variable, its place in the TOML file, the value in
    effect (secrets shown as set / not set) and its description: what `pgxlit doctor --settings` prints."""
    rows = [{"env": f"{ENV_PREFIX}{name.upper()}", "toml": name, "value": str(getattr(settings, name)),
             "description": str(Settings.model_fields[name].description or "")} for name in TOP]
    for flat, (group, field_name) in FLAT.items():
        value = getattr(getattr(settings, group), field_name)
        shown = ("set" if value else "not set") if flat in SECRET_FIELDS else json.dumps(value, default=str)
        rows.append({"env": f"{ENV_PREFIX}{flat.upper()}", "toml": f"{group}.{field_name}", "value": shown,
                     "description": str(GROUPS[group].model_fields[field_name].description or "")})
    return rows


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
