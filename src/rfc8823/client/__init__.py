"""The reference ACME client and mail user agent for RFC 8823 S/MIME enrollment.

``await enroll(EnrollConfig(...))`` runs one enrollment; ``rfc8823 enroll`` is its command line.
"""

from rfc8823.client.enroll import EnrollConfig, EnrollResult, enroll
from rfc8823.client.errors import EnrollmentError

__all__ = ["EnrollConfig", "EnrollResult", "EnrollmentError", "enroll"]
