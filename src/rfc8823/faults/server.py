"""Faults of the reference CA (each breaks one server-side requirement)."""

from __future__ import annotations

from rfc8823.faults import declare

declare()
