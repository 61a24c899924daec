"""The harness's exceptions.

    HarnessError                  anything the harness itself cannot do
    ├── ServiceUnavailable        a shared broker or database cannot be had (or is unfit)
    ├── ServiceUrlError           a service URL (usually from the environment) is malformed
    └── ServiceStartError         a private Mosquitto or PostgreSQL did not start or stop

Messages name the offending value (URL, port, binary, log tail) and how to fix it.
"""

__all__ = ["HarnessError", "ServiceStartError", "ServiceUnavailable", "ServiceUrlError"]


class HarnessError(Exception):
    """Base of every error the test harness raises."""


class ServiceUnavailable(HarnessError):  # noqa: N818 - reads as a state, like TimeoutError
    """A shared service the tests asked for is missing, unreachable or unfit."""


class ServiceUrlError(HarnessError, ValueError):
    """A service URL cannot be parsed or uses an unsupported scheme."""


class ServiceStartError(HarnessError):
    """A private service process failed to start, become ready or stop."""
