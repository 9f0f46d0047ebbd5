"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temporary folder on a free port.

Postgres refuses to run as root, and CI runs as root, so there the server runs as the `postgres`
user (Debian's package creates it). Each test gets a fresh database on the one session server.
Tests skip only when the server binaries are absent (`apt-get install -y postgresql`).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def pg_bin_dir() -> Path | None:
    """Where initdb and pg_ctl live: PGXLIT_PG_BIN, PATH, then Debian's versioned folders."""
    explicit = os.environ.get("PGXLIT_PG_BIN")
    candidates = [Path(explicit)] if explicit else []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    port: int
    root: Path
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://pgxlit@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"pgxlit_test_{next(self._names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=pgxlit dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=pgxlit dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_server_user() -> tuple[list[str], int | None, int | None]:
    """(command prefix, uid, gid) to run the server as a non-root user when we are root."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root and there is no 'postgres' user to run PostgreSQL as: "
                    "apt-get install -y postgresql creates it (or run the tests as a normal user)")
    return ["runuser", "-u", "postgres", "--"], user.pw_uid, user.pw_gid


def start_server() -> PgServer:
    """Start a private cluster; fails loudly (with the server log) when it cannot start."""
    bindir = pg_bin_dir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install -y postgresql "
                    "(or set PGXLIT_PG_BIN to their folder) to run the Postgres store tests")
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed: pip install 'psycopg[binary]'")
    prefix, uid, gid = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="pgxlit-pg-"))
    if uid is not None:
        os.chown(root, uid, gid)
    data, log = root / "data", root / "server.log"
    port = _free_port()
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "pgxlit", "--auth=trust",
                    "-E", "UTF8", "--locale=C", "--no-sync"], check=True, capture_output=True)
    options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off")
    started = subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                              "-w", "-t", "60", "start"], capture_output=True, text=True)
    if started.returncode != 0:
        detail = log.read_text() if log.exists() else started.stderr
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start on port {port}:\n{detail}")
    return PgServer(port=port, root=root)


def stop_server(server: PgServer) -> None:
    bindir = pg_bin_dir()
    prefix, _, _ = _as_server_user()
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(server.root / "data"), "-m", "immediate", "stop"],
                   capture_output=True)
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = start_server()
    yield server
    stop_server(server)


@pytest.fixture()
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database, dropped after the test."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)
