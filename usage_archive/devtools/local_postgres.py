"""Find a local PostgreSQL for the demo and the tests, or start a throwaway one from the local binaries.

Order: $USAGE_ARCHIVE_TEST_PG (a postgresql:// URL of a server where we may create databases), then
127.0.0.1:5432 as user postgres, then a throwaway cluster made with initdb in a temporary folder (run as the
`postgres` system user when we are root, since PostgreSQL refuses to run as root). If none of that works the
error says what to install.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import urlparse, urlunparse

import psycopg2

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
INSTALL_HINT = (
    "no PostgreSQL server answers and none could be started: install PostgreSQL (Debian/Ubuntu: "
    "`apt-get install postgresql`), start it, or set USAGE_ARCHIVE_TEST_PG=postgresql://user@host:port/postgres"
)


class PostgresUnavailable(RuntimeError):
    pass


@dataclass
class LocalPostgres:
    admin_url: str  # a URL to the maintenance database `postgres`
    data_dir: str | None = None  # set for a throwaway cluster we started
    run_as: str | None = None

    def database_url(self, name: str) -> str:
        return with_database(self.admin_url, name)

    def create_database(self, name: str, template: str | None = None) -> str:
        with admin_connection(self.admin_url) as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        with admin_connection(self.admin_url) as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.data_dir:
            _run_as(
                self.run_as, [_pg_bin("pg_ctl"), "-D", self.data_dir, "-m", "immediate", "stop"], check=False
            )
            shutil.rmtree(os.path.dirname(self.data_dir), ignore_errors=True)


def with_database(url: str, name: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path=f"/{name}"))


class admin_connection:
    """psycopg2 autocommit cursor (CREATE/DROP DATABASE cannot run in a transaction)."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg2.connect(url, connect_timeout=5)
        self.conn.autocommit = True

    def __enter__(self):
        return self.conn.cursor()

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def answers(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=3).close()
        return True
    except psycopg2.OperationalError:
        return False


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise PostgresUnavailable(INSTALL_HINT)
    return found


def _run_as(user: str | None, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_throwaway() -> LocalPostgres:
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
            run_as = "postgres"
        except KeyError:
            raise PostgresUnavailable(
                INSTALL_HINT + " (as root, a 'postgres' system user is needed)"
            ) from None
    base = tempfile.mkdtemp(prefix="usage-archive-pg-")
    data_dir = os.path.join(base, "data")
    if run_as:
        shutil.chown(base, user=run_as)
    port = _free_port()
    try:
        _run_as(run_as, [_pg_bin("initdb"), "-D", data_dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        _run_as(
            run_as,
            [
                _pg_bin("pg_ctl"),
                "-D",
                data_dir,
                "-w",
                "-l",
                os.path.join(base, "log"),
                "-o",
                f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ],
        )
    except subprocess.CalledProcessError as exc:
        raise PostgresUnavailable(
            f"{INSTALL_HINT}; starting a throwaway server failed: {exc.stderr.strip()}"
        ) from None
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    for _ in range(50):
        if answers(url):
            return LocalPostgres(admin_url=url, data_dir=data_dir, run_as=run_as)
        time.sleep(0.1)
    raise PostgresUnavailable(f"{INSTALL_HINT}; the throwaway server at port {port} did not answer")


def find_or_start() -> LocalPostgres:
    configured = os.environ.get("USAGE_ARCHIVE_TEST_PG")
    if configured:
        if not answers(configured):
            raise PostgresUnavailable("USAGE_ARCHIVE_TEST_PG is set but that server does not answer")
        return LocalPostgres(admin_url=configured)
    if answers(DEFAULT_URL):
        return LocalPostgres(admin_url=DEFAULT_URL)
    return start_throwaway()
