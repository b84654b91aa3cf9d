"""Extra DNS data for the embedded DNS of ``rfc8823 serve`` (an outside client's DKIM key, MX).

A small line format, one record per line::

    $ZONE example.org                          (serve this apex authoritatively)
    example.org              MX   10 mx.example.org
    mx.example.org           A    127.0.0.1
    sel._domainkey.example.org TXT "v=DKIM1; k=ed25519; p=..."

``#`` starts a comment line; a TXT value is the rest of the line, outer quotes removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rfc8823.world.dns import RECORD_TYPES, DnsServer


@dataclass(frozen=True)
class ZoneData:
    """Zones to serve and records to publish, in file order."""

    zones: tuple[str, ...]
    records: tuple[tuple[str, str, str], ...]


def parse_zone_data(text: str, source: str = "zone data") -> ZoneData:
    """Parse the line format; ``ValueError`` naming the line for anything else."""
    zones: list[str] = []
    records: list[tuple[str, str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 2)
        if parts[0].upper() == "$ZONE" and len(parts) == 2:
            zones.append(parts[1])
            continue
        if len(parts) != 3 or parts[1].upper() not in RECORD_TYPES:
            raise ValueError(
                f"{source}:{number}: expected '<name> <type> <value>' or '$ZONE <apex>'"
            )
        value = parts[2]
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        records.append((parts[0], parts[1].upper(), value))
    return ZoneData(tuple(zones), tuple(records))


def load_zone_file(path: Path, dns: DnsServer) -> ZoneData:
    """Read ``path`` and publish it in ``dns`` (zones first, then records)."""
    data = parse_zone_data(path.read_text(encoding="utf-8"), str(path))
    for apex in data.zones:
        dns.add_zone(apex)
    for name, rtype, value in data.records:
        dns.records.add(name, rtype, value)
    return data
