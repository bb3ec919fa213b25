"""Throwaway PostgreSQL clusters for tests and benchmarks: Debian's server binaries, a
temporary directory, 127.0.0.1 on a free port, trust authentication, removed at the end.

PostgreSQL refuses to run as root, so as root every server command runs as the
unprivileged `postgres` user that Debian's package creates (the directory is given
to that user); as anyone else it runs as the current user.

    with Cluster.started() as primary:          # initdb + start
        url = primary.create_database("papers")  # postgresql+psycopg://...
        with primary.standby() as replica:       # pg_basebackup -R, a hot standby
            ...

Also a command for trying things by hand: `python tests/pgcluster.py` starts one,
prints its URL and waits for Ctrl-C.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

SERVER_USER = "postgres"
START_SECONDS = 60


def bindir() -> Path | None:
    """The newest installed server's binaries (PG_BINDIR overrides), or None."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def available() -> str | None:
    """Why no cluster can be started here, or None when one can."""
    if bindir() is None:
        return "PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BINDIR)"
    if os.geteuid() == 0:
        try:
            import pwd
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run the server as"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, SERVER_USER, SERVER_USER)


class Cluster:
    """One server: its data directory, port and log."""

    def __init__(self, directory: Path, port: int):
        self.directory = directory
        self.data = directory / "data"
        self.port = port
        self.log = directory / "server.log"
        self.bin = bindir()

    def _run(self, *cmd: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(_as_server_user([str(self.bin / cmd[0]), *cmd[1:]]), check=True,
                              capture_output=True, text=True, **kwargs)

    # --- life cycle --------------------------------------------------------------------

    @classmethod
    def create(cls) -> "Cluster":
        directory = Path(tempfile.mkdtemp(prefix="papers-pg-"))
        _give_to_server_user(directory)
        cluster = cls(directory, free_port())
        # A UTF-8 character type: the search configuration splits words with [[:alnum:]],
        # which in the C locale knows only ASCII letters.
        cluster._run("initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust",
                     "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        return cluster

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                   " -c max_connections=200 -c shared_buffers=256MB")
        self._touch_log()
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w",
                  "-t", str(START_SECONDS), "start")

    def _touch_log(self) -> None:
        if not self.log.exists():
            self.log.touch()
            _give_to_server_user(self.log)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            except subprocess.CalledProcessError:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    @classmethod
    @contextmanager
    def started(cls):
        cluster = cls.create()
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.remove()

    # --- use -------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextmanager
    def standby(self):
        """A streaming hot standby of this cluster (pg_basebackup -R), started; removed afterwards."""
        directory = Path(tempfile.mkdtemp(prefix="papers-pg-standby-"))
        _give_to_server_user(directory)
        replica = Cluster(directory, free_port())
        try:
            self._run("pg_basebackup", "-D", str(replica.data), "-h", "127.0.0.1", "-p", str(self.port),
                      "-U", "postgres", "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
            replica.start()
            yield replica
        finally:
            replica.remove()

    def wait_caught_up(self, primary: "Cluster", timeout: float = 30) -> None:
        """Wait until this standby has replayed everything the primary has written so far."""
        import psycopg

        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            target = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            while True:
                done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]
                if done:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"standby not caught up with {target} in {timeout}s")
                time.sleep(0.05)


if __name__ == "__main__":
    problem = available()
    if problem:
        raise SystemExit(problem)
    with Cluster.started() as cluster:
        print(f"DATABASE_URL={cluster.create_database('papers')}", flush=True)
        print("Ctrl-C stops and removes the cluster", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
