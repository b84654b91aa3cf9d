"""ACME wire layer shared by the reference server and client: JWS, nonces, problems, objects.

Nothing here knows about mail; RFC 8555 plus the RFC 8823 identifier and challenge names.
"""
