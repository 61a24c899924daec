"""The TLS context of the hub's MQTT connection, made from `mqtt.tls` at start.

The broker is always verified: its certificate must chain to `ca_file` (or the system's
CAs when none is given) and name the host the hub connects to. TLS 1.2 is the floor.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Final

from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.config import TlsConfig

__all__ = ["tls_context"]

_VERSIONS: Final = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """A client context verifying the broker, with the client certificate if configured.

    Raises `ConfigError` naming the problem when a CA, certificate or key cannot be loaded.
    """
    try:
        context = ssl.create_default_context(
            cafile=None if tls.ca_file is None else str(tls.ca_file)
        )
        if tls.cert_file is not None and tls.key_file is not None:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    except (OSError, ssl.SSLError) as exc:
        message = f"mqtt.tls: cannot load the CA, certificate or key: {exc}"
        raise ConfigError(message) from exc
    context.minimum_version = _VERSIONS[tls.min_version]
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context
