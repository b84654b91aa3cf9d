"""Conformance test suite for ACME end-user S/MIME certificates (RFC 8823)."""

__version__ = "0.1.0"
"""The package version, written only here: pyproject.toml reads it (setuptools dynamic)."""
