"""Conformance reports: per-requirement verdicts from test outcomes, and their renderings.

The pytest plugin (``plugin``) gathers outcomes and findings, ``verdicts`` maps them to the
verdicts of docs/verdicts.md, ``document`` builds the schema-versioned JSON, ``html`` and
``markdown`` render it, ``matrix`` compares several runs, and ``coverage`` maps the catalog onto the
suites.
"""
