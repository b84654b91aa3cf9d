"""Email authentication (DKIM, SPF, DMARC, S/MIME) over the world's real DNS."""
