"""Shared test fixtures.

Tests that need the recorded corpora in ../shared use the `shared` fixture,
which skips with a clear reason when that folder is absent, so a clone alone
still passes on the tiny fixtures in tests/fixtures.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pgxlit.store import Store

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# Modules that build a real store, index, server, cluster or browser, or walk a whole corpus: minutes
# each on 2 cores. `make test` runs everything (as CI does); `make test-fast` leaves these out.
SLOW_MODULES = {
    "test_api_docs", "test_browser", "test_check_labels", "test_digest_shared", "test_engine", "test_engine_load",
    "test_fuzz", "test_genotype_exhaustive", "test_index_qa", "test_index_rebuild", "test_mcp",
    "test_packaging_and_cli_e2e", "test_postgres", "test_qa_kinds", "test_quality_regression",
    "test_relation_transformer", "test_scale_index", "test_scale_store", "test_web_api", "test_web_hardening",
    "test_embed_quality", "test_labels_precision", "test_knowledge",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def shared_root() -> Path:
    return Path(os.environ.get("PGXLIT_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared() -> Path:
    root = shared_root()
    if not (root / "corpora").is_dir():
        pytest.skip(f"needs the recorded corpora at {root}/corpora (set PGXLIT_SHARED to point elsewhere)")
    return root


@pytest.fixture(scope="session")
def gold(shared: Path) -> Path:
    """../shared/gold: the annotated DEV corpora."""
    root = shared / "gold"
    if not (root / "pgxcorpus" / "documents.txt").is_file():
        pytest.skip(f"needs the gold corpora at {root}")
    return root


@pytest.fixture()
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'test.sqlite'}")
    yield s
    s.close()
