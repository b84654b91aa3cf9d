"""What an IMAP client did with its mailbox, as the suite's Dovecot shows it: the
messages it read (a FETCH of their content, or \\Seen) and whether it waits in IDLE."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from rfc8823.targets.client import ImapAccount
from rfc8823.targets.dovecot import Dovecot, dovecot_binary
from rfc8823.targets.imap_activity import (
    MailboxActivity,
    idle_sessions,
    reads_content,
    sequence_set,
)

PREFIX = "Dec 07 18:30:01 imap(mbox)<4242><AbCd/AAAB>: "
WAIT = 5.0


def message(number: int) -> bytes:
    """A small message with its own Message-ID."""
    return (
        f"From: a@ca.test\r\nTo: mbox@example.test\r\nMessage-ID: <m{number}@ca.test>\r\n"
        f"Subject: ACME: token{number}\r\n\r\nbody\r\n"
    ).encode()


def test_sequence_sets_and_fetch_items() -> None:
    """RFC 9051 sequence sets, and which FETCH items return content."""
    assert sequence_set("1:3,5,7:*", 8) == {1, 2, 3, 5, 7, 8}
    assert sequence_set("*", 4) == {4}
    with pytest.raises(ValueError, match="sequence set"):
        sequence_set("0:2", 4)
    assert reads_content("(RFC822)")
    assert reads_content("(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert reads_content("ALL")
    assert not reads_content("(FLAGS UID RFC822.SIZE)")
    assert not reads_content("FAST")


def test_the_log_says_what_was_read() -> None:
    """Saves, expunges, fetches by sequence number and by UID, and \\Seen, per user."""
    activity = MailboxActivity()
    for uid in (1, 2, 3):
        saved = f"save: box=INBOX, uid={uid}, msgid=<m{uid}@ca.test>, flags=()"
        activity.feed(PREFIX + "Info: " + saved)
    activity.feed(PREFIX + "Info: expunge: box=INBOX, uid=1, msgid=<m1@ca.test>")
    activity.feed(PREFIX + "Debug: Command finished: FETCH 1 (BODY.PEEK[])")
    activity.feed(PREFIX + "Debug: Command finished: UID FETCH 3 (FLAGS)")
    activity.feed(PREFIX + "Info: flag_change: box=INBOX, uid=3, msgid=<m3@ca.test>, flags=()")
    assert [activity.was_read("mbox", uid) for uid in (1, 2, 3)] == [False, True, False]
    seen = "flag_change: box=INBOX, uid=3, msgid=<m3@ca.test>, flags=(\\Seen)"
    activity.feed(PREFIX + "Info: " + seen)
    assert activity.was_read("mbox", 3)
    assert not activity.was_read("someone-else", 3)
    assert activity.uids_of("mbox", "<m2@ca.test>") == [2]
    assert activity.wait_read("mbox", 0.01, message_id="<m3@ca.test>")
    assert not activity.wait_read("mbox", 0.01, uids=[1])
    activity.feed(PREFIX + "Info: Disconnected: Logged out in=1 out=2")
    assert activity.ended == {4242}


def test_a_uid_fetch_logged_before_the_save_counts() -> None:
    """Dovecot's processes log independently: the client's UID FETCH may come before the save
    of its message; a FETCH by sequence number cannot be mapped before it."""
    activity = MailboxActivity()
    activity.feed(PREFIX + "Debug: Command finished: UID FETCH 7 (BODY.PEEK[])")
    activity.feed(PREFIX + "Debug: Command finished: FETCH 1 (BODY.PEEK[])")
    activity.feed(PREFIX + "Info: save: box=INBOX, uid=7, msgid=<late@ca.test>, flags=()")
    assert activity.wait_read("mbox", 0.01, message_id="<late@ca.test>")


def test_rawlogs_show_a_session_waiting_in_idle(tmp_path: Path) -> None:
    """The last line a session sent decides; the suite's own APPEND sessions and ended
    processes do not count."""
    (tmp_path / "20261207-1.100.1.in").write_text("1.0 a1 SELECT INBOX\n1.1 a2 IDLE\n")
    (tmp_path / "20261207-1.101.1.in").write_text("1.0 a1 IDLE\n1.2 DONE\n")
    (tmp_path / "20261207-1.102.1.in").write_text("1.0 a1 APPEND INBOX {5}\n1.0 hello\n1.1 IDLE\n")
    (tmp_path / "20261207-1.103.1.in").write_text("1.0 a1 IDLE\n")
    assert idle_sessions(tmp_path, ended=[103]) == [tmp_path / "20261207-1.100.1.in"]


@pytest.fixture
def mailbox() -> Iterator[tuple[Dovecot, ImapAccount]]:
    """A Dovecot with one user."""
    if dovecot_binary() is None:
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    with Dovecot() as server:
        yield server, server.add_user("mbox", "pw")


async def test_dovecot_reports_reads_and_idle(mailbox: tuple[Dovecot, ImapAccount]) -> None:
    """A real session: it opened the INBOX after the mail was filed; BODY.PEEK counts as
    reading, FLAGS does not, \\Seen does; IDLE shows until DONE."""
    server, account = mailbox
    uids = server.append_many(account, [message(1), message(2), message(3)])
    assert uids == [1, 2, 3]
    assert not server.watching(account)
    session = imaplib.IMAP4(account.host, account.port)
    try:
        session.login(account.user, account.password)
        session.select("INBOX")
        session.fetch("2", "(BODY.PEEK[])")
        session.fetch("3", "(FLAGS)")
        assert await server.wait_read(account, WAIT, uid=2)
        assert server.opened_after(account, "<m3@ca.test>"), "SELECT after the APPEND"
        assert not await server.wait_read(account, 0.2, message_id="<m3@ca.test>")
        session.store("1", "+FLAGS", "(\\Seen)")
        assert await server.wait_read(account, WAIT, message_id="<m1@ca.test>")
        tag = session._new_tag()
        session.send(tag + b" IDLE\r\n")
        assert session.readline().startswith(b"+")
        assert await server.wait_watching(account, WAIT)
        session.send(b"DONE\r\n")
        session.readline()
        assert not server.watching(account)
    finally:
        session.logout()
    with pytest.raises(ValueError, match="uid or Message-ID"):
        await server.wait_read(account, 0.1)


def test_a_session_that_opened_the_inbox_after_a_message_was_filed() -> None:
    """The already-delivered premise (FLOW-8): a SELECT or EXAMINE of the INBOX logged after
    the message's save; one before it does not count, nor another mailbox."""
    activity = MailboxActivity()
    activity.feed(PREFIX + 'Debug: Command finished: SELECT "INBOX"')
    activity.feed(PREFIX + "Info: save: box=INBOX, uid=1, msgid=<m1@ca.test>, flags=()")
    assert not activity.opened_after_save("mbox", "<m1@ca.test>")
    activity.feed(PREFIX + "Debug: Command finished: SELECT Archive")
    assert not activity.opened_after_save("mbox", "<m1@ca.test>")
    activity.feed(PREFIX + "Debug: Command finished: EXAMINE INBOX")
    assert activity.opened_after_save("mbox", "<m1@ca.test>")
    assert not activity.opened_after_save("mbox", "<unknown@ca.test>")
