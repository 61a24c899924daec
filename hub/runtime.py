"""The hub process: every part started in order, run in one task group, stopped cleanly.

`Hub` (an async context manager) migrates the database, opens the ingest pool, then
starts, as named tasks of one `asyncio.TaskGroup`: `mqtt` (the broker link), `status`,
`relay`, `webhooks`, `ingest`, `retention` (plain PostgreSQL only), `api` (uvicorn) and, when
`api.metrics_host`/`metrics_port` are set, `metrics` (a second uvicorn serving only
`/metrics`, which the API then does not serve). A task that fails stops the whole hub
(the error comes out of `async with Hub(...)`); leaving the block stops the parts in
reverse order, so the hub publishes `offline` (reason `shutdown`) before it disconnects.
`run_hub` adds SIGINT/SIGTERM handling for the command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import socket
from contextlib import AsyncExitStack
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Final, Self

import psycopg
import uvicorn
from psycopg_pool import AsyncConnectionPool

from hub._tls import tls_context
from hub.api import create_app, create_metrics_app
from hub.backoff import Backoff
from hub.errors import HubError, ListenError
from hub.health import Health, Liveness
from hub.ingest import Ingest, IngestStats
from hub.leases import Leases
from hub.metrics import HubMetrics
from hub.mqtt import LinkSettings, MqttLink
from hub.notify import WebhookRelay
from hub.relay import Relay
from hub.rules import Rules, RulesError, RuleSet, default_rules, load_rules
from hub.rules.clock import RuleClock
from hub.status import WILL_REASON, StatusPublisher, StatusReport
from hub.storage import Migration, Retention, apply_policies, migrate
from hub.storage.snapshots import SnapshotRetention
from wire import HubComponents, Presence, TopicSpace, shared_subscription

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

    from starlette.types import ASGIApp

    from hub.config import HubConfig, RulesConfig

__all__ = [
    "Hub",
    "client_id_for",
    "hub_id_for",
    "migrate_database",
    "run_hub",
    "subscriptions_for",
]

logger = logging.getLogger(__name__)

_API_STOP_S: Final = 5.0
_NOT_ID: Final = re.compile(r"[^A-Za-z0-9_.:-]")


def hub_id_for(config: HubConfig) -> str:
    """The configured hub id, or one made from the host name."""
    if config.hub_id is not None:
        return config.hub_id
    name = _NOT_ID.sub("-", socket.gethostname()).strip("-_.:")[:128]
    return name or "hub"


def subscriptions_for(space: TopicSpace, share_group: str | None) -> tuple[str, ...]:
    """The hub's subscriptions; with `share_group`, events and snapshots are shared.

    Shared (`$share/{group}/...`): each message goes to one hub of the group, which
    stores and acks it. Not shared: retained states, inventories and agent statuses,
    which a broker does not replay on a shared subscription (MQTT 5, 4.8.2) and which
    every hub writes idempotently (docs/scale.md, "What is shared").
    """
    shared: tuple[str, ...] = (space.all_events(), space.all_snapshots())
    if share_group is not None:
        shared = tuple(shared_subscription(share_group, f) for f in shared)
    return (*shared, space.all_states(), space.all_inventories(), space.all_statuses())


def client_id_for(config: HubConfig, hub_id: str) -> str:
    """The MQTT client id: fixed per hub, so its session survives restarts."""
    return config.mqtt.client_id or f"shouwang-hub-{hub_id}"


async def migrate_database(url: str, *, wait: bool) -> tuple[Migration, ...]:
    """Migrate the database at `url`; if `wait`, retry until it is reachable."""
    backoff = Backoff(initial=0.5, maximum=10.0)
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                return await migrate(conn)
        except psycopg.OperationalError as exc:
            if not wait:
                raise HubError(f"cannot reach the database: {exc}") from exc
            logger.warning("database not reachable yet, retrying: %s", exc)
            await asyncio.sleep(backoff.next_delay())


class _ApiServer(uvicorn.Server):
    """uvicorn, minus its signal handlers: the hub handles SIGINT/SIGTERM itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen(host: str, port: int, what: str = "the API") -> socket.socket:
    """A listening socket for `what`, so a taken port fails here, clearly."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = info[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ListenError(f"{what} cannot listen on {host}:{port}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)  # noqa: FBT003 - the socket module's own signature
    except OSError as exc:
        sock.close()
        raise ListenError(f"{what} cannot listen on {host}:{port}: {exc}") from exc
    return sock


class Hub:
    """A running hub; see the module docstring."""

    def __init__(self, config: HubConfig) -> None:
        self._config = config
        self.hub_id = hub_id_for(config)
        self.client_id = client_id_for(config, self.hub_id)
        self.space = TopicSpace(config.mqtt.topic_prefix)
        self.health = Health()
        self.metrics = HubMetrics(self)
        self._stack: AsyncExitStack | None = None
        self._link: MqttLink | None = None
        self._ingest: Ingest | None = None
        self._on_transitions: Callable[[], None] | None = None
        self.rules = Rules(rules_of(config.rules))
        """The rules in force (`reload_rules` replaces them)."""
        self.webhooks_liveness = Liveness()
        """The webhook relay's loop (not yet part of the hub status's components)."""
        self.api_port = 0
        self.metrics_port: int | None = None
        """The port `/metrics` listens on apart from the API, if configured."""

    # HubProbe, for the API's /health.
    def mqtt_connected(self) -> bool:
        """Whether the broker link is up."""
        return self._link is not None and self._link.connected

    def components(self) -> HubComponents:
        """The liveness of ingest, rules and relay."""
        return self.health.components()

    async def wait_connected(self, within_s: float) -> bool:
        """Wait up to `within_s` seconds for the broker link (subscribed); whether it is up."""
        return self._link is not None and await self._link.wait_connected(within_s)

    @property
    def stats(self) -> IngestStats:
        """The ingest counters."""
        if self._ingest is None:
            message = "the hub is not running"
            raise HubError(message)
        return self._ingest.stats

    def _link_settings(self, report: StatusReport) -> LinkSettings:
        mqtt = self._config.mqtt
        space = self.space
        return LinkSettings(
            host=mqtt.host,
            port=mqtt.port,
            client_id=self.client_id,
            subscriptions=subscriptions_for(space, mqtt.share_group),
            will=(space.hub_status(), report.payload(Presence.OFFLINE, WILL_REASON)),
            protocol=mqtt.protocol,
            username=mqtt.username,
            password=None if mqtt.password is None else mqtt.password.get_secret_value(),
            keepalive_s=mqtt.keepalive_s,
            session_expiry_s=mqtt.session_expiry_s,
            # A 3.1.1 session never expires: a dead member of a share group would keep
            # its turn (docs/scale.md), so a shared hub starts clean on 3.1.1.
            clean_session=mqtt.share_group is not None,
            # Room for the batch being written and the next one filling.
            receive_maximum=min(65_535, max(100, 2 * self._config.ingest.batch_max)),
            timeout_s=mqtt.timeout_s,
            reconnect_max_s=mqtt.reconnect_max_s,
            tls=None if mqtt.tls is None else tls_context(mqtt.tls),
        )

    async def _start_api(
        self,
        stack: AsyncExitStack,
        tasks: asyncio.TaskGroup,
        sock: socket.socket,
        metrics_sock: socket.socket | None,
    ) -> None:
        registry = self.metrics.registry
        api = self._config.api
        app = create_app(
            self._config.database,
            probe=self,
            metrics=registry if metrics_sock is None else None,
            webhooks_config=self._config.webhooks,
            rules=self.rules,
            on_transitions=self._transitions_written,
            console=self._config.console,
        )
        self._serve(stack, tasks, app, sock, name="api", what="the API")
        logger.info("API listening on %s:%d", api.host, self.api_port)
        if metrics_sock is not None:
            self._serve(
                stack,
                tasks,
                create_metrics_app(registry),
                metrics_sock,
                name="metrics",
                what="the metrics listener",
            )
            logger.info("metrics listening on %s:%d", api.metrics_host, self.metrics_port)

    @staticmethod
    def _serve(
        stack: AsyncExitStack,
        tasks: asyncio.TaskGroup,
        app: ASGIApp,
        sock: socket.socket,
        *,
        name: str,
        what: str,
    ) -> None:
        """Serve `app` on `sock` with uvicorn as the task `name`, stopped with the stack."""
        server = _ApiServer(
            uvicorn.Config(app, log_config=None, lifespan="on", timeout_graceful_shutdown=3)
        )

        async def serve() -> None:
            try:
                await server.serve(sockets=[sock])
            except SystemExit as exc:  # uvicorn exits the process when startup fails
                message = f"{what} failed to start (see the log above)"
                raise HubError(message) from exc

        task = tasks.create_task(serve(), name=name)

        async def stop() -> None:
            server.should_exit = True
            done, _ = await asyncio.wait([task], timeout=_API_STOP_S)
            if not done:
                task.cancel()
                await asyncio.wait([task])

        stack.push_async_callback(stop)

    async def _start(self, stack: AsyncExitStack) -> None:
        config = self._config
        # The port first: a taken port is a mistake to report before anything starts.
        sock = _listen(config.api.host, config.api.port)
        stack.callback(sock.close)
        self.api_port = sock.getsockname()[1]
        metrics_sock = None
        if config.api.metrics_host is not None and config.api.metrics_port is not None:
            metrics_sock = _listen(
                config.api.metrics_host, config.api.metrics_port, "the metrics listener"
            )
            stack.callback(metrics_sock.close)
            self.metrics_port = metrics_sock.getsockname()[1]
        url = config.database.url.get_secret_value()
        await migrate_database(url, wait=True)
        pool = await self._open_pool(stack, url)
        async with pool.connection() as conn:
            hypertable = await apply_policies(conn, config.storage)
        leases = Leases(
            url,
            hub_id=self.hub_id,
            duties=self.health.duties,
            connect_timeout_s=config.database.connect_timeout_s,
        )
        stack.push_async_callback(leases.close)
        tasks = await stack.enter_async_context(asyncio.TaskGroup())
        await self._start_loops(stack, tasks, pool, leases)
        if not hypertable:  # TimescaleDB's retention policy does it otherwise
            await stack.enter_async_context(
                Retention(pool=pool, config=config.storage, tasks=tasks, leases=leases)
            )
        days = config.storage.snapshot_retention_days
        await stack.enter_async_context(
            SnapshotRetention(pool=pool, retention_days=days, tasks=tasks, leases=leases)
        )
        await self._start_api(stack, tasks, sock, metrics_sock)

    async def _open_pool(
        self, stack: AsyncExitStack, url: str
    ) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        """The pool ingest and the relay share, closed last."""
        database = self._config.database
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            url,
            min_size=database.pool_min,
            max_size=database.pool_max,
            timeout=database.connect_timeout_s,
            open=False,
            name="ingest",
            check=AsyncConnectionPool.check_connection,
        )
        await pool.open()
        stack.push_async_callback(pool.close)
        return pool

    async def _start_loops(
        self,
        stack: AsyncExitStack,
        tasks: asyncio.TaskGroup,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        leases: Leases,
    ) -> None:
        """The broker link, status, relay and ingest, in the order they depend on."""
        config = self._config
        report = StatusReport(hub_id=self.hub_id, version=version("shouwang"), health=self.health)
        topic = self.space.hub_status()
        self._link = await stack.enter_async_context(
            MqttLink(
                self._link_settings(report),
                tasks=tasks,
                birth=lambda: (topic, report.payload(Presence.ONLINE)),
            )
        )
        await stack.enter_async_context(
            StatusPublisher(
                report=report,
                link=self._link,
                topic=topic,
                interval_s=config.status_interval_s,
                tasks=tasks,
            )
        )
        relay = await stack.enter_async_context(
            Relay(
                pool=pool,
                link=self._link,
                space=self.space,
                liveness=self.health.relay,
                metrics=self.metrics,
                tasks=tasks,
                leases=leases,
            )
        )
        webhooks = await stack.enter_async_context(
            WebhookRelay(
                pool=pool,
                config=config.webhooks,
                liveness=self.webhooks_liveness,
                tasks=tasks,
                leases=leases,
            )
        )

        def on_transitions() -> None:
            relay.wake()
            webhooks.wake()

        self._on_transitions = on_transitions

        self._ingest = await stack.enter_async_context(
            Ingest(
                link=self._link,
                pool=pool,
                space=self.space,
                config=config.ingest,
                health=self.health,
                metrics=self.metrics,
                on_transitions=on_transitions,
                rules=self.rules,
                tasks=tasks,
                connect_timeout_s=config.database.connect_timeout_s,
            )
        )
        await stack.enter_async_context(
            RuleClock(
                pool=pool,
                rules=self.rules,
                liveness=self.health.rules,
                on_transitions=on_transitions,
                tasks=tasks,
                tick_s=config.rules.tick_s,
                leases=leases,
            )
        )

    def _transitions_written(self) -> None:
        """Wake the relays: a commit outside ingest (an operator's action) queued some."""
        if self._on_transitions is not None:
            self._on_transitions()

    def reload_rules(self) -> bool:
        """Read the rules file again and run it from the next batch; whether it took.

        A file that does not validate is logged with every problem, and the rules in
        force stay.
        """
        try:
            rules = rules_of(self._config.rules)
        except RulesError as exc:
            logger.error("rules not reloaded, the current ones stay: %s", exc)  # noqa: TRY400
            return False
        self.rules.replace(rules)
        logger.info("rules reloaded from %s: %d rules", rules.source, len(rules.rules))
        return True

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            await self._start(stack)
            self._stack = stack.pop_all()
        logger.info("hub %s started (client id %s)", self.hub_id, self.client_id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        stack, self._stack = self._stack, None
        if stack is None:
            return None
        logger.info("hub %s stopping", self.hub_id)
        return await stack.__aexit__(exc_type, exc, tb)


def rules_of(config: RulesConfig) -> RuleSet:
    """The rules `config` names (`RulesError` if they do not validate)."""
    return default_rules() if config.path is None else load_rules(config.path)


async def run_hub(config: HubConfig) -> None:
    """Run a hub until SIGINT or SIGTERM, then stop it cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main = asyncio.current_task()
    running = False

    def on_signal(signum: signal.Signals) -> None:
        logger.info("%s received: stopping", signum.name)
        if running:
            stop.set()
        elif main is not None:
            main.cancel()  # still starting (e.g. waiting for the database): give up

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        async with Hub(config) as hub:
            running = True
            loop.add_signal_handler(signal.SIGHUP, hub.reload_rules)
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
