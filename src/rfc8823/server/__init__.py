"""The reference ACME server (CA) for RFC 8823 email-reply-00."""
