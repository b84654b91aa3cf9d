"""The spec's email rules as pure functions: build and inspect messages (RFC 8823 §3.1, §3.2)."""
