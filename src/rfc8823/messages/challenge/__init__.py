"""The ACME challenge email: build one, and judge a received one (RFC 8823 §3.1).

``ChallengeEmail`` (``builder``) is an immutable builder with every variation a test needs.
``inspect_challenge`` (``inspector``) is pure: it applies the rules of ``header_rules``,
``token_rules``, ``authentication_rules``, ``protection_rules`` and ``body_rules`` to one
message and returns a finding per requirement it can judge (``ChallengeReport``).
``authenticate_challenge`` (``authentication``) is the only function doing I/O (DKIM keys over
DNS, S/MIME paths to trust anchors).
"""

from rfc8823.messages.challenge.authentication import ChallengeAuth, authenticate_challenge
from rfc8823.messages.challenge.builder import DEFAULT_AUTO_SUBMITTED, ChallengeEmail
from rfc8823.messages.challenge.expectation import ChallengeExpectation
from rfc8823.messages.challenge.inspector import inspect_challenge
from rfc8823.messages.challenge.protection_rules import MUST_PROTECT
from rfc8823.messages.challenge.report import ChallengeReport
from rfc8823.messages.challenge.token_rules import MIN_TOKEN_PART1_OCTETS

__all__ = [
    "DEFAULT_AUTO_SUBMITTED",
    "MIN_TOKEN_PART1_OCTETS",
    "MUST_PROTECT",
    "ChallengeAuth",
    "ChallengeEmail",
    "ChallengeExpectation",
    "ChallengeReport",
    "authenticate_challenge",
    "inspect_challenge",
]
