"""The SIA DC-09 receiver: alarm panels and communicators report over TCP or UDP.

One listener serves many panels. Each frame is checked (CRC, length, timestamp window,
decryption), its Contact ID or SIA-DCS codes are mapped to v1 events (`codes`), routed
to the devices the config names (`routing`), stored in the outbox, and only then
acknowledged. Modules by role: `framing` (CRC, stream framing, headers), `crypto`
(AES-CBC), `messages` (data blocks), `codes` (the tables), `routing` (drafts),
`dedup` (retransmissions), `supervision` (offline panels), `answers` (ACK, NAK, DUH),
`receiver` (the decision per frame), `server` (the sockets), `config` (the section).
"""

from agent.drivers.sia.config import SiaAccount, SiaConfig
from agent.drivers.sia.receiver import Tally
from agent.drivers.sia.server import Ports, SiaReceiver

__all__ = ["Ports", "SiaAccount", "SiaConfig", "SiaReceiver", "Tally"]
