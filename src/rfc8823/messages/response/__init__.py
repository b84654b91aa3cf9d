"""The ACME response email: build one, and judge a received one (RFC 8823 §3.2).

``ResponseEmail`` (``builder``) is an immutable builder for the reply of §3.2, with every
variation a test needs. ``inspect_response`` (``inspector``) is pure: it applies the rules of
``header_rules``, ``body_rules``, ``digest_rules`` and ``authentication_rules`` to one message
and says whether a conforming CA should accept it (``ResponseReport.acceptable``).
``authenticate_response`` (``authentication``) is the only function doing I/O (DKIM, SPF and
DMARC lookups).
"""

from rfc8823.messages.response.authentication import ResponseAuth, authenticate_response
from rfc8823.messages.response.block import BEGIN_MARKER, END_MARKER
from rfc8823.messages.response.builder import DEFAULT_DKIM_HEADERS, ResponseEmail
from rfc8823.messages.response.digest_rules import DIGEST_RULES
from rfc8823.messages.response.expectation import ResponseExpectation
from rfc8823.messages.response.inspector import inspect_response
from rfc8823.messages.response.report import ResponseReport

__all__ = [
    "BEGIN_MARKER",
    "DEFAULT_DKIM_HEADERS",
    "DIGEST_RULES",
    "END_MARKER",
    "ResponseAuth",
    "ResponseEmail",
    "ResponseExpectation",
    "ResponseReport",
    "authenticate_response",
    "inspect_response",
]
