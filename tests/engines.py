"""Private, throw-away PostgreSQL and MariaDB servers for the test session.

``server(engine, pytest_config)`` starts one server per engine and per test session,
the first time a test asks for it, on a free loopback port, in its own temporary
directory, with fsync off (the data is thrown away); the server is stopped and its
directory deleted when the session ends, whether tests passed, failed or were
interrupted. A server that cannot start fails the tests that need it, with the
server's own log in the message: these tests are never skipped.

To use servers that already run, set a URL of a user that may create and drop
databases (its database part names the maintenance database and is otherwise
ignored)::

    ONESTACK_TEST_PG_URL=postgresql+asyncpg://user:pw@host:5432/postgres
    ONESTACK_TEST_MYSQL_URL=mysql+asyncmy://user:pw@host:3306/

Each test gets databases of its own (``scratch_database``, ``cloud_databases``),
created before and dropped after it, so tests never see each other's rows.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

ENGINES = ("postgresql", "mariadb")
ENV_URLS = {"postgresql": "ONESTACK_TEST_PG_URL", "mariadb": "ONESTACK_TEST_MYSQL_URL"}
DRIVERS = {"postgresql": "postgresql+asyncpg", "mariadb": "mysql+asyncmy"}
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
USER = "onestack"
WORKDIR_PREFIXES = ("onestack-pg-", "onestack-mariadb-")
OWNER_FILE = "owner.pid"
# Binary collation: names compare and sort as on SQLite and on PostgreSQL with the C
# locale (MariaDB's default utf8mb4 collation would make "Alice" equal "alice").
MYSQL_DATABASE_OPTIONS = "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"


class ServerStartError(RuntimeError):
    pass


@dataclass
class DatabaseServer:
    """A database server and a user on it that may create and drop databases."""

    engine: str
    admin_url: sa.URL  # connects to the maintenance database (PostgreSQL) or to none
    started_in: float | None = None  # seconds, None for a server given by URL
    workdir: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def url(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def log_excerpt(self, lines: int = 30) -> str:
        if self.log is None or not self.log.exists():
            return "(no server log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    async def _admin(self, *statements: str) -> None:
        engine = create_async_engine(self.admin_url, poolclass=NullPool,
                                     isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                for statement in statements:
                    await conn.exec_driver_sql(statement)
        finally:
            await engine.dispose()

    async def create_databases(self, names: Iterable[str]) -> None:
        if self.engine == "postgresql":
            await self._admin(*(f'CREATE DATABASE "{name}"' for name in names))
        else:
            await self._admin(*(f"CREATE DATABASE `{name}` {MYSQL_DATABASE_OPTIONS}"
                                for name in names))

    async def drop_databases(self, names: Iterable[str]) -> None:
        if self.engine == "postgresql":
            # FORCE ends sessions a failed test may have left open.
            await self._admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                                for name in names))
        else:
            await self._admin(*(f"DROP DATABASE IF EXISTS `{name}`" for name in names))

    @contextlib.asynccontextmanager
    async def scratch_database(self) -> AsyncIterator[str]:
        """A new empty database for one test; yields its URL and drops it afterwards."""
        name = f"onestack_t{secrets.token_hex(6)}"
        await self.create_databases([name])
        try:
            yield self.url(name)
        finally:
            await self.drop_databases([name])

    @contextlib.asynccontextmanager
    async def cloud_databases(self, services: Iterable[str]) -> AsyncIterator[str]:
        """One new database per service; yields a ``[database] url`` template with
        ``{service}``, as a deployment configures it, and drops them afterwards."""
        prefix = f"onestack_c{secrets.token_hex(6)}"
        names = [f"{prefix}_{service}" for service in services]
        await self.create_databases(names)
        try:
            # The URL escapes braces (also in a password), so the template has only ours.
            yield self.url(prefix + "_SERVICE").replace(prefix + "_SERVICE",
                                                          prefix + "_{service}")
        finally:
            await self.drop_databases(names)


# -- one server per engine and per session --------------------------------------------

_servers: dict[str, DatabaseServer] = {}
_failures: dict[str, str] = {}


def server(engine: str, config: pytest.Config) -> DatabaseServer:
    """The session's server for ``engine``: the URL from the environment, else a private
    one started now and stopped when the session ends. Fails the calling test (never
    skips it) when the server cannot start."""
    if engine in _servers:
        return _servers[engine]
    if engine in _failures:  # one attempt per session; every test reports the reason
        pytest.fail(_failures[engine], pytrace=False)
    external = os.environ.get(ENV_URLS[engine])
    if external:
        _servers[engine] = DatabaseServer(engine, admin_url_from_env(engine, external))
        return _servers[engine]
    try:
        started = start(engine)
    except ServerStartError as exc:
        _failures[engine] = (f"cannot start a private {engine} server for the database "
                             f"engine tests (set {ENV_URLS[engine]} to use a running one):"
                             f"\n{exc}")
    else:
        _servers[engine] = started
        config.add_cleanup(lambda: _release(engine))
        return started
    # Failing outside the except block keeps the report to this one message.
    pytest.fail(_failures[engine], pytrace=False)


def _release(engine: str) -> None:
    found = _servers.pop(engine, None)
    if found is not None:
        stop(found)


@atexit.register
def _release_all() -> None:  # a safety net when the session did not end normally
    for engine in list(_servers):
        _release(engine)


def admin_url_from_env(engine: str, text: str) -> sa.URL:
    """The URL of a running server; a database in it (not a ``{service}`` template)
    names PostgreSQL's maintenance database."""
    templated = "{service}" in text
    url = sa.make_url(text.replace("{service}", "service"))
    expected = {"postgresql": ("postgresql",), "mariadb": ("mysql", "mariadb")}[engine]
    if url.get_backend_name() not in expected:
        raise pytest.UsageError(f"{ENV_URLS[engine]} must be a {engine} URL, got {text!r}")
    url = url.set(drivername=DRIVERS[engine])
    if engine == "postgresql":
        return url.set(database=url.database if url.database and not templated
                       else "postgres")
    return url._replace(database=None)  # set() ignores None


def start(engine: str) -> DatabaseServer:
    begun = time.monotonic()
    sweep_abandoned()
    for _attempt in range(3):  # another process may take the free port before we bind it
        found = start_postgresql() if engine == "postgresql" else start_mariadb()
        if isinstance(found, DatabaseServer):
            found.started_in = time.monotonic() - begun
            return found
    raise ServerStartError(found)


def stop(found: DatabaseServer) -> None:
    """Stop the server (politely, then by SIGKILL) and delete its directory."""
    try:
        process = found.process
        if process is not None and process.poll() is None:
            # PostgreSQL: SIGQUIT is an immediate shutdown (the data is thrown away);
            # MariaDB: SIGTERM is its normal, fast shutdown.
            process.send_signal(signal.SIGQUIT if found.engine == "postgresql"
                                else signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_SECONDS)
    finally:
        if found.workdir is not None:
            shutil.rmtree(found.workdir, ignore_errors=True)


def _workdir(prefix: str) -> Path:
    """A private directory that names its owner, for ``sweep_abandoned``."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    (workdir / OWNER_FILE).write_text(f"{os.getpid()}\n")
    return workdir


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_abandoned() -> None:
    """Delete the directories of sessions that were killed before their clean-up (their
    servers died with them)."""
    for prefix in WORKDIR_PREFIXES:
        for path in Path(tempfile.gettempdir()).glob(prefix + "*"):
            try:
                owner = int((path / OWNER_FILE).read_text())
            except (OSError, ValueError):
                continue
            if not _alive(owner):
                shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_ready(found: DatabaseServer, probe: list[str], env: dict[str, str]) -> str | None:
    """None once ``probe`` succeeds; else why the server is not ready."""
    assert found.process is not None
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if found.process.poll() is not None:
            return f"the server exited with status {found.process.returncode}"
        if subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0:
            return None
        time.sleep(0.05)
    return f"the server did not accept connections within {START_TIMEOUT_SECONDS:.0f} s"


def _dies_with_us(command: list[str], signal_name: str, user: str | None = None) -> list[str]:
    """``command`` run so that it gets ``signal_name`` if this process dies unexpectedly
    (killed, or interrupted past its clean-ups), optionally as ``user``."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        if user is not None:
            raise ServerStartError("setpriv not found: apt-get install util-linux")
        return command
    as_user = [f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user else []
    return [setpriv, *as_user, f"--pdeathsig={signal_name}", "--", *command]


def _run(command: list[str], what: str, **kwargs: object) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=120, **kwargs)
    except FileNotFoundError as exc:
        raise ServerStartError(f"{what}: {exc}") from None
    except subprocess.CalledProcessError as exc:
        output = (exc.stdout + exc.stderr).decode(errors="replace")[-3000:]
        raise ServerStartError(f"{what} failed ({exc.returncode}):\n{output}") from None


# -- PostgreSQL ------------------------------------------------------------------------

def postgresql_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                        key=lambda path: int(Path(path).parent.parent.name))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("postgres") or shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise ServerStartError("PostgreSQL is not installed: apt-get install postgresql")


def start_postgresql() -> DatabaseServer | str:
    """A started server, or (when it could not bind its port) the reason as text."""
    bindir = postgresql_bindir()
    # PostgreSQL refuses to run as root: as root, run it as the postgres user.
    as_user = {"user": "postgres", "group": "postgres", "extra_groups": []} \
        if os.geteuid() == 0 else {}
    workdir = _workdir(WORKDIR_PREFIXES[0])
    password = secrets.token_hex(12)
    port = free_port()
    found = DatabaseServer("postgresql", sa.URL.create(
        DRIVERS["postgresql"], USER, password, "127.0.0.1", port, "postgres"),
        workdir=workdir, log=workdir / "postgresql.log")
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "HOME": str(workdir),
           "PGPASSWORD": password}
    try:
        (workdir / "password").write_text(password + "\n")
        if as_user:
            shutil.chown(workdir, "postgres", "postgres")
            shutil.chown(workdir / "password", "postgres", "postgres")
        _run([str(bindir / "initdb"), "-D", str(workdir / "data"), "-U", USER,
              f"--pwfile={workdir / 'password'}", "--auth=scram-sha-256", "-E", "UTF8",
              "--locale=C", "--no-sync", "--no-instructions"],
             "initdb", cwd=workdir, env=env, **as_user)
        command = [str(bindir / "postgres"), "-D", str(workdir / "data"), "-p", str(port),
                   "-k", str(workdir), "-c", "listen_addresses=127.0.0.1",
                   "-c", "fsync=off", "-c", "synchronous_commit=off",
                   "-c", "full_page_writes=off", "-c", "shared_buffers=32MB",
                   "-c", "max_connections=200"]
        with open(found.log, "wb") as log:
            # SIGQUIT: PostgreSQL's immediate shutdown, which also ends its backends.
            found.process = subprocess.Popen(
                _dies_with_us(command, "SIGQUIT", "postgres" if as_user else None),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                env=env, start_new_session=True)
        failure = _wait_until_ready(found, [str(bindir / "pg_isready"), "-q", "-h",
                                            "127.0.0.1", "-p", str(port), "-U", USER,
                                            "-d", "postgres"], env)
        if failure is None:
            return found
        reason = f"PostgreSQL on port {port}: {failure}\n{found.log_excerpt()}"
    except BaseException:
        stop(found)
        raise
    stop(found)
    if "Address already in use" in reason:
        return reason
    raise ServerStartError(reason)


# -- MariaDB ---------------------------------------------------------------------------

def _mariadb_program(*names: str) -> str:
    for name in names:
        for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
            if candidate and os.access(candidate, os.X_OK):
                return candidate
    raise ServerStartError(f"{names[0]} not found: apt-get install mariadb-server")


def start_mariadb() -> DatabaseServer | str:
    """A started server, or (when it could not bind its port) the reason as text."""
    server_program = _mariadb_program("mariadbd", "mysqld")
    install = _mariadb_program("mariadb-install-db", "mysql_install_db")
    client = _mariadb_program("mariadb", "mysql")
    workdir = _workdir(WORKDIR_PREFIXES[1])
    password = secrets.token_hex(12)
    port = free_port()
    found = DatabaseServer("mariadb", sa.URL.create(
        DRIVERS["mariadb"], USER, password, "127.0.0.1", port, None,
        query={"charset": "utf8mb4"}), workdir=workdir, log=workdir / "error.log")
    run_as = ["--user=root"] if os.geteuid() == 0 else []
    data = workdir / "data"
    # For the bootstrap and the server alike (the server need not resize its redo log);
    # the data is thrown away, so nothing waits for the disk.
    innodb = ["--innodb-log-file-size=16M", "--innodb-buffer-pool-size=64M",
              "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0"]
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "HOME": str(workdir)}
    try:
        _run([install, "--no-defaults", f"--datadir={data}", *run_as,
              "--auth-root-authentication-method=socket", "--skip-test-db",
              "--skip-name-resolve", *innodb], "mariadb-install-db", cwd=workdir, env=env)
        (workdir / "init.sql").write_text(
            f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1';\n")
        found.process = subprocess.Popen(_dies_with_us(
            [server_program, "--no-defaults", f"--datadir={data}", *run_as,
             f"--port={port}", "--bind-address=127.0.0.1",
             f"--socket={workdir / 'mysqld.sock'}", f"--pid-file={workdir / 'mysqld.pid'}",
             f"--log-error={found.log}", f"--tmpdir={workdir}",
             f"--init-file={workdir / 'init.sql'}", "--skip-name-resolve",
             "--skip-log-bin",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin",
             "--max-connections=300", *innodb], "SIGTERM"),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=workdir, env=env, start_new_session=True)
        failure = _wait_until_ready(found, [client, "--no-defaults", "--protocol=TCP",
                                            "-h", "127.0.0.1", "-P", str(port), "-u", USER,
                                            f"-p{password}", "-e", "SELECT 1"], env)
        if failure is None:
            return found
        reason = f"MariaDB on port {port}: {failure}\n{found.log_excerpt()}"
    except BaseException:
        stop(found)
        raise
    stop(found)
    if "Address already in use" in reason or "Can't start server: Bind" in reason:
        return reason
    raise ServerStartError(reason)

