"""What a reply needs from the challenge email it answers (RFC 8823 §3.1, §3.2)."""

from __future__ import annotations

from dataclasses import dataclass

from rfc8823.messages.headers import parse_acme_subject, parse_single_address, unfold
from rfc8823.messages.mime import parse_message


@dataclass(frozen=True)
class ChallengeFacts:
    """What a reply needs from a challenge: its sender, Reply-To, Message-ID and token-part1."""

    from_addr: str
    reply_to: str | None
    message_id: str | None
    token_part1: str

    @classmethod
    def read(cls, challenge_raw: bytes) -> ChallengeFacts:
        """Read a challenge email (RFC 8823 §3.1); ValueError if it has no From or no token."""
        message = parse_message(challenge_raw)
        from_raw = message.first("From")
        sender = parse_single_address(from_raw).addr_spec if from_raw is not None else None
        if sender is None:
            raise ValueError(f"the challenge has no usable From field: {from_raw!r}")
        subject = message.first("Subject")
        token = parse_acme_subject(subject).token_part1 if subject is not None else None
        if token is None:
            raise ValueError(f"the challenge Subject carries no token-part1: {subject!r}")
        reply_to_raw = message.first("Reply-To")
        reply_to = None
        if reply_to_raw is not None:
            reply_to = ", ".join(parse_single_address(reply_to_raw).addresses) or None
        message_id = message.first("Message-ID")
        return cls(
            from_addr=sender,
            reply_to=reply_to,
            message_id=unfold(message_id).strip() if message_id else None,
            token_part1=token,
        )
