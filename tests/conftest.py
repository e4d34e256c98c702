"""Test-wide guards and shared fixtures.

* No test may reach the network: any connection to a non-loopback address fails loudly.
* Real data lives in ../shared/fixtures beside the checkout (never copied into this repo).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("MASTLENS_FIXTURES", REPO.parent / "shared" / "fixtures")).resolve()
EXAMPLES = REPO / "examples"
IN_CI = bool(os.environ.get("CI"))


class NetworkAccessError(RuntimeError):
    """Raised when a test tries to open a connection off this machine."""


def _is_loopback(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise NetworkAccessError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise NetworkAccessError(f"test tried to reach the network: {address!r}")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]

# Judges and clients must never pick up a developer's real endpoint or key during tests.
for _var in ("OPENAI_API_KEY", "MASTLENS_API_KEY", "OPENAI_BASE_URL", "MASTLENS_BASE_URL", "MASTLENS_DB"):
    os.environ.pop(_var, None)

# rich fixes a console's width for good when COLUMNS is set as it is created; the CLI's consoles are created on
# the first command a test runs, so without this the COLUMNS of whichever CliRunner call came first would hold
# for every later test. Created here with no COLUMNS, they read it (each call's env) whenever they print.
_columns = os.environ.pop("COLUMNS", None)
import mastlens.cli.common  # noqa: E402,F401

if _columns is not None:
    os.environ["COLUMNS"] = _columns


def lacking(message: str) -> NoReturn:
    """Stop a test that lacks what it needs: a failure in CI (which installs and has everything), a skip
    locally."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def require_tool(path_or_name: str, what: str) -> str:
    """The path of a system tool the test needs; in CI its absence is a failure, locally a skip."""
    found = shutil.which(path_or_name)
    if found:
        return found
    lacking(f"{what} not installed ({path_or_name}); .ci/run installs it")


def require_fixtures() -> Path:
    """The shared fixtures folder. Absent, a test that needs it is skipped (a fresh clone has no
    ../shared) or, in CI (which has it), fails."""
    if not FIXTURES.is_dir():
        lacking(f"shared fixtures not found at {FIXTURES} (set MASTLENS_FIXTURES to a copy; "
                "see README, 'Test data')")
    return FIXTURES


@pytest.fixture
def fixtures_dir() -> Path:
    return require_fixtures()


@pytest.fixture(scope="session")
def swe_agent_dir() -> Path:
    """../shared/devsets/swe_agent: three real SWE-agent trajectories (skipped with the reason when absent)."""
    folder = FIXTURES.parent / "devsets" / "swe_agent"
    if not folder.is_dir():
        lacking(f"SWE-agent dev files not found at {folder} (../shared/devsets beside the checkout)")
    return folder


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.db"


# -- stores: every test that takes ``store`` (or ``store_location``) runs on SQLite and on PostgreSQL ------------
# (a test that also takes ``db_path`` hands that file to the CLI, so it stays on SQLite; so do the browser
# tests, which check pages, not the store, and are the slowest of the suite)

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ("backend" in metafunc.fixturenames and "db_path" not in metafunc.fixturenames
            and metafunc.definition.get_closest_marker("chromium") is None):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL cluster for the session (tests/_postgres.py). Without PostgreSQL's
    binaries: a skip locally, a failure in CI."""
    from _postgres import PostgresServer

    try:
        server = PostgresServer()
    except FileNotFoundError as exc:
        lacking(f"{exc}; .ci/run installs it")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store_location(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the test's store lives: a SQLite file (``db_path``'s), or a URL on a fresh PostgreSQL schema."""
    if backend == "postgresql":
        return request.getfixturevalue("postgres_server").fresh_url()
    return str(tmp_path / "test.db")


@pytest.fixture
def store(store_location: str):
    from mastlens.store import Store

    with Store(store_location) as s:
        yield s
