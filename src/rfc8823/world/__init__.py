"""The embedded test network: DNS, SMTP, PKI and domains, all on loopback."""
