"""What a CA knows when a reply arrives, and the digests it accepts (RFC 8823 §3.2, KA-1..KA-4)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from rfc8823.messages.response.challenge_facts import ChallengeFacts
from rfc8823.tokens import (
    Concatenation,
    acme_token,
    b64url_decode,
    b64url_encode,
    expected_digests,
    key_authorization,
    response_digest,
    without_whitespace,
)


@dataclass(frozen=True)
class ResponseExpectation:
    """What the CA knows when a reply arrives: the order's identifier and the challenge it sent.

    ``other_thumbprints`` lists thumbprints of other accounts; a digest made with one of them is
    reported as SEC-7 rather than as a plain mismatch (a single message cannot reveal it otherwise).
    ``earlier_token_part1s`` lists the token-part1 of earlier challenge emails to the identifier;
    a digest made with one of them and this token-part2 is reported as KA-1 likewise.
    Token parts and thumbprints that give no digest raise ValueError here.
    """

    identifier: str
    challenge_from: str
    challenge_reply_to: str | None
    token_part1: str
    token_part2: str
    thumbprint: str
    challenge_message_id: str | None
    other_thumbprints: tuple[str, ...] = ()
    earlier_token_part1s: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Compute the digests now, so unusable tokens or thumbprints raise here, not later."""
        _ = self.digests, self.known_slips

    @classmethod
    def for_challenge(
        cls, challenge_raw: bytes, *, identifier: str, token_part2: str, thumbprint: str
    ) -> ResponseExpectation:
        """The expectation for replies to this challenge email (RFC 8823 §3.1, §3.2)."""
        challenge = ChallengeFacts.read(challenge_raw)
        return cls(
            identifier=identifier,
            challenge_from=challenge.from_addr,
            challenge_reply_to=challenge.reply_to,
            token_part1=challenge.token_part1,
            token_part2=token_part2,
            thumbprint=thumbprint,
            challenge_message_id=challenge.message_id,
        )

    @cached_property
    def digests(self) -> dict[Concatenation, bytes]:
        """The digest octets under each reading (KA-1..KA-4); ValueError on unusable tokens."""
        return {
            reading: b64url_decode(value)
            for reading, value in expected_digests(
                self.token_part1, self.token_part2, self.thumbprint
            ).items()
        }

    @cached_property
    def key_authorizations(self) -> frozenset[str]:
        """The key authorization under each reading, to spot it sent raw (KA-3)."""
        return frozenset(
            key_authorization(acme_token(self.token_part1, self.token_part2, r), self.thumbprint)
            for r in Concatenation
        )

    @cached_property
    def known_slips(self) -> dict[bytes, tuple[str, str]]:
        """Digest octets of known wrong constructions: requirement ID and what was done.

        Parts swapped, one part left out, or an earlier challenge's token-part1 (KA-1); no dot,
        padded thumbprint, or no thumbprint (KA-2); another account's thumbprint (SEC-7).
        """
        slips: dict[bytes, tuple[str, str]] = {}
        part1 = without_whitespace(self.token_part1)
        for alone, what in (
            (self.token_part2, "token-part2 alone: token-part1 left out of the token"),
            (part1, "token-part1 alone: token-part2 left out of the token"),
            (part1.rstrip("="), "token-part1 alone: token-part2 left out of the token"),
        ):
            slips[_sha256_octets(key_authorization(alone, self.thumbprint))] = ("KA-1", what)
        for earlier in self.earlier_token_part1s:
            for reading in Concatenation:
                token = acme_token(without_whitespace(earlier), self.token_part2, reading)
                slips[_sha256_octets(key_authorization(token, self.thumbprint))] = (
                    "KA-1",
                    f"the token-part1 {earlier} of an earlier challenge email, not this one's "
                    f"({reading} reading)",
                )
        for reading in Concatenation:
            token = acme_token(part1, self.token_part2, reading)
            padded = b64url_encode(b64url_decode(self.thumbprint), pad=True)
            for text, what in (
                (f"{token}{self.thumbprint}", "key authorization without the '.'"),
                (f"{token}.{padded}", "thumbprint written with '=' padding"),
                (token, "the token alone, no thumbprint"),
            ):
                slips[_sha256_octets(text)] = ("KA-2", f"{what} ({reading} reading)")
            swapped = acme_token(self.token_part2, part1, reading)
            slips[_sha256_octets(f"{swapped}.{self.thumbprint}")] = (
                "KA-1",
                f"token-part2 put before token-part1 ({reading} reading)",
            )
            for other in self.other_thumbprints:
                slips[_sha256_octets(key_authorization(token, other))] = (
                    "SEC-7",
                    f"made with another account's thumbprint {other} ({reading} reading)",
                )
        return slips


def _sha256_octets(key_authorization_text: str) -> bytes:
    return b64url_decode(response_digest(key_authorization_text))
