"""What an IMAP client did with its mailbox, read from the suite's Dovecot.

Two sources, both Dovecot's own: its log, with the ``mail_log`` plugin (a line per message
saved, expunged or flagged, with UID and Message-ID) and the ``imap_command_finished`` debug
event (a line per command, with its arguments); and the rawlog of each IMAP session (every
line the client sent, as it sent it), which is the only place an ``IDLE`` that has not ended
yet shows. :class:`MailboxActivity` keeps what the log says per user; :func:`idle_sessions`
reads the rawlogs. Pure parsing apart from reading files; Dovecot's wiring is in ``dovecot``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_LINE = re.compile(
    r"imap\((?P<user>[^)]*)\)<(?P<pid>\d+)><[^>]*>: \w+: (?P<event>[a-z_]+|Command finished|"
    r"Disconnected|Logged out): ?(?P<text>.*)$"
)
_FIELD = re.compile(r"(\w+)=(\([^)]*\)|[^,]*)")
_FETCH = re.compile(r"^(?P<uid>UID )?FETCH (?P<set>\S+) (?P<items>.*)$", re.IGNORECASE)
_NOT_CONTENT = frozenset(
    {"FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "BODYSTRUCTURE", "BODY", "FAST", "MODSEQ"}
)
"""FETCH items and macros that return nothing of the message's content (RFC 9051 §6.4.5)."""
_ITEM = re.compile(r"[A-Z0-9.]+(?:\[[^\]]*\])?(?:<[^>]*>)?", re.IGNORECASE)
_OURS = re.compile(r"^\S+ \S+ APPEND ", re.MULTILINE)
_INBOX_OPENED = re.compile(r'^(?:SELECT|EXAMINE) "?INBOX"?(?: |$)', re.IGNORECASE)


def sequence_set(text: str, highest: int) -> set[int]:
    """The numbers an IMAP sequence set names (RFC 9051 §9 ``sequence-set``); ``*`` is
    ``highest``. ValueError for text that is not a sequence set."""
    numbers: set[int] = set()
    for part in text.split(","):
        ends = [highest if end == "*" else int(end) for end in part.split(":")]
        if len(ends) not in (1, 2) or min(ends) < 1:
            raise ValueError(f"not a sequence set: {text!r}")
        numbers.update(range(min(ends), max(ends) + 1))
    return numbers


def reads_content(items: str) -> bool:
    """Whether FETCH ``items`` return some of the message (header, text, body or envelope)."""
    names = [match.group(0).upper() for match in _ITEM.finditer(items)]
    return any(name not in _NOT_CONTENT for name in names)


@dataclass
class _UserState:
    uids: list[int] = field(default_factory=list)
    message_ids: dict[int, str] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    read: set[int] = field(default_factory=set)
    saved_at: dict[int, int] = field(default_factory=dict)
    """The log line number of each message's save."""
    opened_at: list[int] = field(default_factory=list)
    """The log line numbers of the SELECTs and EXAMINEs of the INBOX."""


class MailboxActivity:
    """Per user: the INBOX's UIDs in order, their Message-IDs, and which were read or \\Seen.

    ``feed`` takes Dovecot log lines (from any thread); ``changed`` is notified after each.
    A FETCH by sequence number is mapped to UIDs through the INBOX as the log shows it then.
    """

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self._users: dict[str, _UserState] = {}
        self.ended: set[int] = set()
        self._lines = 0

    def feed(self, line: str) -> None:
        """Take one log line; lines of no interest are ignored."""
        match = _LINE.search(line)
        if match is None:
            return
        with self.changed:
            self._lines += 1
            self._take(match)
            self.changed.notify_all()

    def _take(self, match: re.Match[str]) -> None:
        event, text = match["event"], match["text"]
        if event in ("Disconnected", "Logged out"):
            self.ended.add(int(match["pid"]))
            return
        state = self._users.setdefault(match["user"], _UserState())
        if event == "Command finished":
            self._fetched(state, text)
            if _INBOX_OPENED.match(text.strip()):
                state.opened_at.append(self._lines)
            return
        fields = dict(_FIELD.findall(text))
        if fields.get("box") != "INBOX" or not fields.get("uid", "").isdigit():
            return
        uid = int(fields["uid"])
        if event == "save":
            state.uids.append(uid)
            state.message_ids[uid] = fields.get("msgid", "")
            state.saved_at[uid] = self._lines
        elif event == "expunge" and uid in state.uids:
            state.uids.remove(uid)
        elif event == "flag_change" and "\\Seen" in fields.get("flags", ""):
            state.seen.add(uid)

    @staticmethod
    def _fetched(state: _UserState, command: str) -> None:
        """A UID FETCH names its UIDs, so it counts even before the save of its message is
        logged (another Dovecot process may log that later); a FETCH by sequence number is
        mapped through the INBOX as logged so far."""
        fetch = _FETCH.match(command.strip())
        if fetch is None or not reads_content(fetch["items"]):
            return
        try:
            if fetch["uid"]:
                state.read.update(sequence_set(fetch["set"], max(state.uids, default=0)))
            elif state.uids:
                numbers = sequence_set(fetch["set"], len(state.uids))
                state.read.update(state.uids[n - 1] for n in numbers if n <= len(state.uids))
        except ValueError:
            return

    def uids_of(self, user: str, message_id: str) -> list[int]:
        """The UIDs under which messages with this Message-ID were saved, oldest first."""
        with self.changed:
            state = self._users.get(user, _UserState())
            return sorted(u for u, mid in state.message_ids.items() if mid == message_id.strip())

    def was_read(self, user: str, uid: int) -> bool:
        """Whether a session fetched the message's content, or it is flagged ``\\Seen``."""
        with self.changed:
            state = self._users.get(user, _UserState())
            return uid in state.read or uid in state.seen

    def opened_after_save(self, user: str, message_id: str) -> bool:
        """Whether a session SELECTed (or EXAMINEd) the INBOX after a message with this
        Message-ID was saved there, as Dovecot logged them: it began looking with the message
        already in the mailbox."""
        with self.changed:
            state = self._users.get(user, _UserState())
            saved = [state.saved_at[u] for u, mid in state.message_ids.items() if mid == message_id]
            return bool(saved) and any(line > min(saved) for line in state.opened_at)

    def wait_read(
        self,
        user: str,
        timeout: float,
        *,
        uids: Iterable[int] = (),
        message_id: str | None = None,
    ) -> bool:
        """Block until one of ``uids``, or a copy of the message with ``message_id`` (whose save
        may not be logged yet), :meth:`was_read` (True) or ``timeout`` passes (False)."""
        given = tuple(uids)

        def read() -> bool:
            found = [*given, *(self.uids_of(user, message_id) if message_id else ())]
            return any(self.was_read(user, uid) for uid in found)

        with self.changed:
            return self.changed.wait_for(read, timeout)


def idle_sessions(rawlog_dir: Path, ended: Iterable[int] = ()) -> list[Path]:
    """The sessions whose last command is an ``IDLE`` not ended by ``DONE`` (RFC 2177).

    ``rawlog_dir`` holds Dovecot's ``<time>.<pid>.<n>.in`` files; sessions that APPENDed (the
    suite's own deliveries) and those of processes that have ``ended`` are left out.
    """
    gone = set(ended)
    found: list[Path] = []
    for path in sorted(rawlog_dir.glob("*.in")):
        if _pid(path) in gone:
            continue
        try:
            text = path.read_text("utf-8", "replace")
        except OSError:
            continue
        if _OURS.search(text) is None and _last_command_is_idle(text.splitlines()):
            found.append(path)
    return found


def _pid(path: Path) -> int | None:
    parts = path.name.split(".")
    return int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else None


def _last_command_is_idle(lines: Sequence[str]) -> bool:
    """A rawlog line is ``<timestamp> <client line>``; the last non-empty one decides."""
    for line in reversed(lines):
        words = line.split()[1:]
        if words:
            return words[0].upper() != "DONE" and len(words) == 2 and words[1].upper() == "IDLE"
    return False
