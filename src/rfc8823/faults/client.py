"""Faults of the reference client (each breaks one client-side requirement)."""

from __future__ import annotations

from rfc8823.faults import declare

declare()
