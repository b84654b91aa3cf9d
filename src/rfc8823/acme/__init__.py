"""ACME wire layer shared by the reference server, client and suites: JWS, nonces, problems,
objects, and a raw driver that can also send what a conforming client never would.

Nothing here knows about mail; RFC 8555 plus the RFC 8823 identifier and challenge names.
"""
