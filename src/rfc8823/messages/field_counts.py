"""How many times each origination, destination and identification field appears in a message.

RFC 5322 §3.6: a message has exactly one Date (orig-date) and one From field; Sender,
Reply-To, To, Cc, Bcc, Message-ID, In-Reply-To, References and Subject appear at most once.
Both the challenge and the response are messages in that sense (REF-5322-4); a receiver of
either may refuse one that is not. Pure; shared by both inspectors.
"""

from __future__ import annotations

from rfc8823.findings import broken, passed
from rfc8823.messages.judge import Judge
from rfc8823.messages.mime import ParsedMessage

EXACTLY_ONCE = ("Date", "From")
AT_MOST_ONCE = (
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Subject",
)
ROW = "REF-5322-4"


def judge_field_counts(message: ParsedMessage, judge: Judge) -> None:
    """One finding on REF-5322-4: the required fields once each, the others at most once."""
    wrong = [
        f"{name} x{message.count(name)}" for name in EXACTLY_ONCE if message.count(name) != 1
    ]
    wrong += [f"{name} x{message.count(name)}" for name in AT_MOST_ONCE if message.count(name) > 1]
    expected = "one Date, one From; Sender, Reply-To, To, Cc, Message-ID ... at most once"
    if wrong:
        judge.add(broken(ROW, ", ".join(wrong), expected))
    else:
        judge.add(passed(ROW, "Date and From once each, no field repeated", expected))
