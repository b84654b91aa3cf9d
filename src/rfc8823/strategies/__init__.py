"""Hypothesis strategies that explore the freedoms RFC 8823 and the specs it cites allow."""
