"""Issued certificates judged as a relying party would: pkilint's lints as catalog findings.

A certificate (and its chain) in, Findings out. RFC 5280 lints and the chain (names, key
identifiers, signatures, a path to one of the CA's declared trust anchors) land on the REF-5280
rows; with a declared S/MIME BR profile, the BR lints land on the REF-SMBR rows (WARN: the BR
are not RFC 8823 requirements). ``rows.toml`` says which code goes to which row; an unlisted
code is INFO naming it; findings only the test world causes are INFO with the reason.
"""

from __future__ import annotations

import importlib.metadata


def pkilint_version() -> str:
    """The installed pkilint version, recorded in every report (light: pkilint not imported)."""
    return importlib.metadata.version("pkilint")
