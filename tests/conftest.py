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


def shared_root() -> Path:
    return Path(os.environ.get("PGXLIT_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared() -> Path:
    root = shared_root()
    if not (root / "corpora").is_dir():
        pytest.skip(f"needs the recorded corpora at {root}/corpora (set PGXLIT_SHARED to point elsewhere)")
    return root


@pytest.fixture()
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'test.sqlite'}")
    yield s
    s.close()
