"""Drivers: each reads one family of devices and hands the outbox drafts of v1 events."""
