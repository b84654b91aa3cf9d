"""The answered-challenge ledger: a challenge email is answered at most once, across restarts.

Entries are keyed by the challenge's Message-ID and by its token-part1 (either one matching
means "answered"), kept in a JSON file replaced atomically on every change. An entry is
written *before* the response is submitted and removed only if the submission fails, so a crash
mid-send errs on the side of not answering twice. RFC 8823 §3 step 6; FLOW-6.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rfc8823.client.errors import UsageError
from rfc8823.client.files import write_atomically
from rfc8823.tokens import without_whitespace

_VERSION = 1


def _token_key(token_part1: str) -> str:
    """token-part1 as compared: no white space, no ``=`` padding (AMB-2, CHAL-SUBJ-2)."""
    return without_whitespace(token_part1).rstrip("=")


@dataclass(frozen=True)
class LedgerEntry:
    """One answered challenge."""

    message_id: str | None
    token_part1: str
    identifier: str
    answered_at: float


class AnsweredLedger:
    """Answered challenges, persisted at ``path`` (None: remembered for this process only)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._entries: list[LedgerEntry] = _load(path) if path is not None else []

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"version": _VERSION, "answered": [asdict(entry) for entry in self._entries]}
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        write_atomically([(self.path, text.encode("utf-8"), 0o600)])

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        """Every answered challenge, oldest first."""
        return tuple(self._entries)

    def is_answered(self, message_id: str | None, token_part1: str) -> bool:
        """Whether a challenge with this Message-ID or this token-part1 was answered."""
        token = _token_key(token_part1)
        return any(
            (message_id is not None and entry.message_id == message_id)
            or _token_key(entry.token_part1) == token
            for entry in self._entries
        )

    def record(self, message_id: str | None, token_part1: str, identifier: str) -> LedgerEntry:
        """Note a challenge as answered (saved before this returns)."""
        entry = LedgerEntry(message_id, token_part1, identifier, time.time())
        self._entries.append(entry)
        self._save()
        return entry

    def forget(self, entry: LedgerEntry) -> None:
        """Undo :meth:`record` after a submission that certainly failed."""
        if entry in self._entries:
            self._entries.remove(entry)
            self._save()


def _load(path: Path) -> list[LedgerEntry]:
    """The entries of a ledger file (none if it does not exist yet); UsageError if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as error:
        raise UsageError("state file", f"cannot read {path}: {error}") from None
    try:
        data = json.loads(text)
        return [
            LedgerEntry(
                message_id=item["message_id"],
                token_part1=str(item["token_part1"]),
                identifier=str(item["identifier"]),
                answered_at=float(item["answered_at"]),
            )
            for item in data["answered"]
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(
            "state file",
            f"{path} is not a ledger of answered challenges ({error!r}); refusing to "
            "run, since answering a challenge twice is what it prevents (FLOW-6)",
        ) from None
