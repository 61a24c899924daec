"""A private PostgreSQL: it serves, survives a crash, pauses and cleans up."""

import os

import psycopg
import pytest

from tests.harness import PrivatePostgres

pytestmark = pytest.mark.integration


def test_private_server_serves_version_15_on_its_own_port(
    private_postgres: PrivatePostgres,
) -> None:
    """The private cluster answers on its own port with the preferred major version."""
    assert private_postgres.port != 5432
    with psycopg.connect(private_postgres.url) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
        fsync = conn.execute("SHOW fsync").fetchone()
    assert row is not None
    assert int(row[0]) // 10000 == 15
    assert fsync == ("on",)


@pytest.mark.faults
def test_committed_row_survives_sigkill_and_restart(private_postgres: PrivatePostgres) -> None:
    """A committed row is there after SIGKILL of every server process and a restart."""
    with psycopg.connect(private_postgres.url) as conn:
        conn.execute("CREATE TABLE kept (note text)")
        conn.execute("INSERT INTO kept VALUES ('before the crash')")
    idle = psycopg.connect(private_postgres.url)  # a backend the crash must take along
    try:
        private_postgres.kill()
        assert not private_postgres.alive
        assert private_postgres.server_pids() == []
    finally:
        idle.close()
    private_postgres.restart()
    with psycopg.connect(private_postgres.url) as conn:
        assert conn.execute("SELECT note FROM kept").fetchall() == [("before the crash",)]
    assert "database system was interrupted" in private_postgres.log_tail(100)


@pytest.mark.faults
def test_graceful_stop_and_restart_keep_port_and_data(private_postgres: PrivatePostgres) -> None:
    """stop() then restart() brings the same cluster back on the same port."""
    with psycopg.connect(private_postgres.url) as conn:
        conn.execute("CREATE TABLE kept (id int)")
    port = private_postgres.port
    private_postgres.stop()
    assert private_postgres.server_pids() == []
    private_postgres.restart()
    assert private_postgres.port == port
    with psycopg.connect(private_postgres.url) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)


@pytest.mark.faults
def test_paused_server_answers_nothing_until_resumed(private_postgres: PrivatePostgres) -> None:
    """A SIGSTOPped cluster lets connections time out; after SIGCONT it serves again."""
    private_postgres.pause()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(private_postgres.url, connect_timeout=2).close()
    private_postgres.resume()
    with psycopg.connect(private_postgres.url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_close_ends_every_process_and_removes_the_directory() -> None:
    """Leaving the context ends the postmaster and its children and removes the directory."""
    with PrivatePostgres() as server:
        directory = server.directory
        pids = server.server_pids()
        assert server.pid in pids
        assert len(pids) > 1  # checkpointer, writer, ... run as separate processes
    assert not directory.exists()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
