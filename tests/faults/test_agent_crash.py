"""The agent killed with SIGKILL again and again while devices push: nothing it answered
201 for is lost, nothing is stored twice, and its outbox always opens cleanly.

`kill -9` loses the process, not the page cache, so it cannot show that a commit reached
the disk: that part is pinned by checking the outbox's own connection runs
`synchronous=FULL` (in WAL mode), which is what makes a returned commit durable.
"""

import asyncio
import contextlib
import random
import sqlite3
import time
from pathlib import Path

import pytest

from agent import Outbox
from tests.faults.agent_support import DEVICES, PushLoop, repeated_seqs, wait_until
from tests.faults.processes import AgentProcess, HubProcess, wait_for_ids
from tests.harness import MqttEndpoint

pytestmark = [pytest.mark.faults, pytest.mark.integration]

SITE = "crash-site"
KILLS = 10
SQLITE_SYNCHRONOUS_FULL = 2


async def _outbox_pragmas(path: Path) -> tuple[int, str, str]:
    """(synchronous, journal_mode, integrity_check) as the outbox's own connection sees them."""
    async with Outbox(path, site=SITE) as outbox:

        def read() -> tuple[int, str, str]:
            db = outbox._connection()
            (synchronous,) = db.execute("PRAGMA synchronous").fetchone()
            (journal,) = db.execute("PRAGMA journal_mode").fetchone()
            (integrity,) = db.execute("PRAGMA integrity_check").fetchone()
            return synchronous, journal, integrity

        return await outbox._call(read)


def _held(path: Path) -> int:
    """Events the outbox still holds (not yet acked by the hub)."""
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM events").fetchone()
        return int(count)


@pytest.mark.timeout(180)
def test_sigkill_ten_times_mid_stream_loses_nothing_answered(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """Ten SIGKILLs while devices push: every id answered 201 is stored exactly once."""
    rng = random.Random()
    hub = HubProcess(
        tmp_path / "hub", database_url=database, endpoint=mqtt_endpoint, prefix=topic_prefix
    )
    agent = AgentProcess(
        tmp_path / "agent", site=SITE, devices=DEVICES, endpoint=mqtt_endpoint, prefix=topic_prefix
    )
    path = tmp_path / "agent" / "outbox.sqlite3"
    kinds = [("door", "door.opened"), ("panic", "alarm.panic"), ("cam", "motion.started")]
    with hub, agent:
        # Four devices at once: most kills land while a group commit or a publish is open.
        with PushLoop(agent, kinds, threads=4) as pushes:
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.2, 0.8))
                agent.kill()
                agent.start()  # fails the test, with the log, if the outbox will not open
            time.sleep(0.5)
        answered = set(pushes.stored)
        assert len(answered) == len(pushes.stored)  # the agent never handed out an id twice
        assert len(answered) > 100, pushes.statuses
        ids = wait_for_ids(database, answered, within_s=60, site=SITE)
        wait_until(lambda: _held(path) == 0, "every event acked", within_s=30)
        agent.stop()
    assert agent.starts == KILLS + 1
    missing = answered - set(ids)
    assert not missing, f"{len(missing)} of {len(answered)} answered events lost"
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert repeated_seqs(database, SITE) == [], "a seq was reused after a crash"

    synchronous, journal, integrity = asyncio.run(_outbox_pragmas(path))
    assert (synchronous, journal, integrity) == (SQLITE_SYNCHRONOUS_FULL, "wal", "ok")
