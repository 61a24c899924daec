"""Events as CSV (RFC 4180), for `Accept: text/csv`."""

import csv
import io
import json
from collections.abc import Sequence
from typing import Final

from hub.storage import EventRecord
from wire import format_time

__all__ = ["CSV_MEDIA_TYPE", "events_csv", "wants_csv"]

CSV_MEDIA_TYPE: Final = "text/csv"
_HEADER: Final = (
    "id",
    "at",
    "received_at",
    "site",
    "device",
    "kind",
    "type",
    "lane",
    "epoch",
    "seq",
    "source",
    "data",
)


def wants_csv(accept: str | None) -> bool:
    """Whether an `Accept` header asks for CSV (JSON stays the default)."""
    if accept is None:
        return False
    media = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return CSV_MEDIA_TYPE in media


def events_csv(events: Sequence[EventRecord]) -> str:
    """A header row, then one row per event; `source` and `data` as compact JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_HEADER)
    for e in events:
        writer.writerow(
            (
                e.id,
                format_time(e.at),
                format_time(e.received_at),
                e.site,
                e.device,
                e.kind,
                e.type,
                e.lane,
                e.epoch,
                e.seq,
                json.dumps(e.source, separators=(",", ":"), ensure_ascii=False),
                json.dumps(e.data, separators=(",", ":"), ensure_ascii=False),
            )
        )
    return out.getvalue()
