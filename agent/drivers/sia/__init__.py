"""The SIA DC-09 receiver: alarm panels and communicators report over TCP or UDP."""
