"""Whether the broker takes the agent's connection: TCP, then TLS, then the credentials.

Each stage fails with its own reason (a name that does not resolve, nothing listening,
a certificate the CA does not vouch for, a refused password), so the integrator knows
which of host, port, `tls` or `password` to fix. The probe connects under a client id
of its own, so a running agent's connection is left alone, and publishes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import uuid
from typing import TYPE_CHECKING, Final

import aiomqtt

from agent._tls import tls_context
from agent.check._report import Row
from agent.errors import AgentError

if TYPE_CHECKING:
    from agent.config import AgentConfig

__all__ = ["connect_reason", "probe_broker"]

_CHECK: Final = "broker"
_REFUSED: Final = {
    1: "the broker does not speak this MQTT version (mqtt.protocol)",
    2: "the broker refused the client id",
    3: "the broker is unavailable",
    4: "wrong user name or password",
    5: "not authorised: wrong password, or the user is not provisioned (or was revoked)",
    128: "the broker refused the connection",
    132: "the broker does not speak this MQTT version (mqtt.protocol)",
    133: "the broker refused the client id",
    134: "wrong user name or password",
    135: "not authorised: wrong password, or the user is not provisioned (or was revoked)",
    136: "the broker is unavailable",
}
_PROTOCOLS: Final = {"3.1.1": aiomqtt.ProtocolVersion.V311, "5": aiomqtt.ProtocolVersion.V5}


async def probe_broker(config: AgentConfig) -> Row:
    """Connect as the agent would (its user, password and TLS); a row with the outcome."""
    mqtt = config.mqtt
    target = f"{mqtt.host}:{mqtt.port}"
    try:
        context = None if mqtt.tls is None else tls_context(mqtt.tls)
    except AgentError as exc:
        return Row.fail(_CHECK, target, str(exc))
    transport = await _transport(mqtt.host, mqtt.port, context, mqtt.timeout_s)
    if isinstance(transport, Row):
        return transport
    user = mqtt.username or config.site
    client = aiomqtt.Client(
        mqtt.host,
        mqtt.port,
        username=user,
        password=None if mqtt.password is None else mqtt.password.get_secret_value(),
        identifier=f"shouwang-check-{config.site}-{uuid.uuid4().hex[:8]}",
        protocol=_PROTOCOLS[mqtt.protocol],
        clean_session=True if mqtt.protocol == "3.1.1" else None,
        timeout=mqtt.timeout_s,
        tls_context=context,
    )
    try:
        async with asyncio.timeout(mqtt.timeout_s + 1):
            async with client:
                pass
    except aiomqtt.MqttCodeError as exc:
        code = getattr(exc.rc, "value", exc.rc)
        reason = _REFUSED.get(code if isinstance(code, int) else -1, f"refused ({exc})")
        return Row.fail(_CHECK, target, f"the broker refused user {user!r}: {reason}")
    except (aiomqtt.MqttError, TimeoutError) as exc:
        hint = "" if mqtt.tls is not None else " (a TLS port? mqtt.tls is not set)"
        return Row.fail(_CHECK, target, f"no MQTT answer{hint}: {exc or 'timed out'}")
    detail = f"user {user!r} accepted over {transport} (MQTT {mqtt.protocol})"
    return Row.ok(_CHECK, target, detail)


async def _transport(
    host: str, port: int, context: ssl.SSLContext | None, timeout_s: float
) -> str | Row:
    """`TCP` or the TLS version negotiated, or the row saying why the connection failed."""
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if context else None
            )
    except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
        return Row.fail(_CHECK, f"{host}:{port}", connect_reason(exc, host, port, timeout_s))
    ssl_object = writer.get_extra_info("ssl_object")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return "TCP" if ssl_object is None else f"TLS ({ssl_object.version()})"


def connect_reason(exc: BaseException, host: str, port: int, timeout_s: float) -> str:
    """Why a TCP (and TLS) connection to the broker failed, in the integrator's terms."""
    match exc:
        case socket.gaierror():
            reason = f"cannot resolve {host!r}: {exc.strerror}"
        case ConnectionRefusedError():
            reason = f"connection refused: nothing listens on port {port} (broker down? mqtt.port?)"
        case ssl.SSLCertVerificationError():
            reason = (
                f"TLS: the broker's certificate is refused: {exc.verify_message} "
                "(mqtt.tls.ca_file, or a host name the certificate does not carry)"
            )
        case ssl.SSLError():
            reason = f"TLS handshake failed ({exc.reason}): is port {port} a TLS listener?"
        case TimeoutError():
            reason = f"no answer within {timeout_s:g} s (firewall? address?)"
        case OSError():
            reason = f"cannot connect: {exc.strerror or exc}"
        case _:
            reason = f"cannot connect: {type(exc).__name__}"
    return reason
