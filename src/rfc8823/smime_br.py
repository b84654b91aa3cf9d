"""The CA/Browser Forum S/MIME BR mailbox-validated profiles: names, policy OIDs, validity caps.

A target declares one of these profiles (``mailbox-strict``, ``mailbox-multipurpose``,
``mailbox-legacy``) to have its certificates linted against the S/MIME Baseline Requirements; the
reference CA issues under one. Data only: S/MIME BR §7.1.6.1 (reserved policy OIDs) and §6.3.2
(validity periods).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, get_args

BrProfile = Literal["mailbox-strict", "mailbox-multipurpose", "mailbox-legacy"]
BR_PROFILES: tuple[BrProfile, ...] = get_args(BrProfile)

POLICY_OIDS: dict[BrProfile, str] = {
    "mailbox-legacy": "2.23.140.1.5.1.1",
    "mailbox-multipurpose": "2.23.140.1.5.1.2",
    "mailbox-strict": "2.23.140.1.5.1.3",
}
"""The reserved certificatePolicies OID of each mailbox-validated generation."""

MAX_VALIDITY: dict[BrProfile, timedelta] = {
    "mailbox-legacy": timedelta(days=1185),
    "mailbox-multipurpose": timedelta(days=825),
    "mailbox-strict": timedelta(days=825),
}
"""The longest validity period each generation allows."""


def br_profile(name: str) -> BrProfile:
    """The profile called ``name`` (``strict`` alone means ``mailbox-strict``); ValueError else."""
    full = name if name.startswith("mailbox-") else f"mailbox-{name}"
    for profile in BR_PROFILES:
        if profile == full:
            return profile
    raise ValueError(f"unknown S/MIME BR profile {name!r}; known: {', '.join(BR_PROFILES)}")
