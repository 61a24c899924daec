"""The errors the hub raises at its boundaries.

::

    Exception
     └── HubError              something stops the hub from starting or running
          ├── ConfigError      the configuration file is missing, not YAML, or invalid;
          │                    the message names the file, line, key and (unless secret) value
          ├── MigrationError   the database schema cannot be brought to this hub's version:
          │                    a changed migration, a database newer than this code
          ├── ListenError      the API (or its metrics listener) cannot listen on its address
          └── BrokerUnavailable  a publish failed because the broker link is down; the
                               caller retries later or leaves it to the agent's resend

The database going away is met with psycopg's own errors where it happens: the loops
retry with backoff and report it through the hub's status; it never ends the process.
Payloads the contract refuses are `wire.WireError`s and become dead letters.
"""

__all__ = ["BrokerUnavailable", "ConfigError", "HubError", "ListenError", "MigrationError"]


class HubError(Exception):
    """Something stops the hub from starting or running."""


class ConfigError(HubError):
    """The configuration file is missing, is not YAML, or does not validate."""


class MigrationError(HubError):
    """The database schema cannot be brought to the version this hub knows."""


class ListenError(HubError):
    """The API, or its metrics listener, cannot listen on its configured host and port."""


class BrokerUnavailable(HubError):  # noqa: N818 - a verdict, as wire's errors are
    """A publish failed because the connection to the broker is down."""
