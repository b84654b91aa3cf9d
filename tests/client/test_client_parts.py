"""The client's small parts on their own: polling arithmetic, nonces, files, ledger, sources."""

from __future__ import annotations

import mailbox
import stat
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from rfc8823.client.acme_client import NoncePool, PollPolicy, next_poll_delay, parse_retry_after
from rfc8823.client.errors import UsageError
from rfc8823.client.files import write_atomically
from rfc8823.client.keys import account_key_at, load_private_key
from rfc8823.client.ledger import AnsweredLedger
from rfc8823.client.mailbox import MaildirMailSource
from rfc8823.client.output import file_stem

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    """RFC 9110 §10.2.3: delta-seconds or an HTTP-date; anything else is ignored."""
    assert parse_retry_after(value, now=NOW) == seconds


def test_poll_delay_backs_off_and_caps_retry_after() -> None:
    """Back-off doubles to its ceiling; a huge Retry-After is capped."""
    policy = PollPolicy(first=0.1, factor=2.0, ceiling=0.3, retry_after_cap=5.0)
    assert next_poll_delay(None, None, policy) == 0.1
    assert next_poll_delay(0.1, None, policy) == 0.2
    assert next_poll_delay(0.2, None, policy) == 0.3
    assert next_poll_delay(0.3, 2.0, policy) == 2.0
    assert next_poll_delay(0.3, 3600.0, policy) == 5.0


def test_nonce_pool_uses_the_freshest_first() -> None:
    """RFC 8555 §6.5: the nonce of the latest response is the one most likely still good."""
    pool = NoncePool(capacity=2)
    for nonce in ("a", "b", "c", None, ""):
        pool.add(nonce)
    assert [pool.take(), pool.take(), pool.take()] == ["c", "b", None]


def test_files_are_written_together_or_not_at_all(tmp_path: Path) -> None:
    """A failure on the second file leaves neither file nor temporary behind."""
    (tmp_path / "chain.pem").mkdir()
    (tmp_path / "chain.pem" / "occupied").write_text("x")
    with pytest.raises(IsADirectoryError):
        write_atomically(
            [(tmp_path / "key.pem", b"secret", 0o600), (tmp_path / "chain.pem", b"c", 0o644)]
        )
    assert list_names(tmp_path) == ["chain.pem"]
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(FileExistsError):
        write_atomically([(tmp_path / "a", b"a", 0o600), (blocker / "b", b"b", 0o600)])
    assert list_names(tmp_path) == ["chain.pem", "not-a-folder"]
    write_atomically([(tmp_path / "key.pem", b"secret", 0o600)])
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600


def test_account_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    """The account key file is made on first use and read afterwards."""
    path = tmp_path / "account.pem"
    key, created = account_key_at(path, "eddsa")
    again, created_again = account_key_at(path, "es256")
    assert created
    assert not created_again
    assert again.public_key() == key.public_key()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_unreadable_account_key_is_a_usage_error(tmp_path: Path) -> None:
    """A file that is no private key is named in the error."""
    path = tmp_path / "account.pem"
    path.write_text("not a key")
    with pytest.raises(UsageError, match=r"account\.pem"):
        load_private_key(path)


def test_ledger_survives_a_restart_and_ignores_padding_and_spaces(tmp_path: Path) -> None:
    """FLOW-6: a token answered once matches again by Message-ID or by token-part1."""
    path = tmp_path / "state" / "answered.json"
    ledger = AnsweredLedger(path)
    entry = ledger.record("<m1@ca.test>", "abcd efgh=", "user@example.test")
    reopened = AnsweredLedger(path)
    assert reopened.is_answered("<m1@ca.test>", "zzzz")
    assert reopened.is_answered(None, "abcdefgh")
    assert not reopened.is_answered("<m2@ca.test>", "abcdefgi")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reopened.forget(reopened.entries[0])
    assert not AnsweredLedger(path).is_answered("<m1@ca.test>", "x")
    assert entry.identifier == "user@example.test"


def test_corrupt_ledger_refuses_to_run(tmp_path: Path) -> None:
    """A ledger that cannot be read must not be taken as empty (that would allow replays)."""
    path = tmp_path / "answered.json"
    path.write_text('{"answered": [{"token_part1": 5}]}')
    with pytest.raises(UsageError, match="FLOW-6"):
        AnsweredLedger(path)


def test_file_stem_keeps_addresses_readable() -> None:
    """Output names come from the address; only unsafe characters are replaced."""
    assert file_stem("alice+tag@example.test") == "alice+tag@example.test"
    assert file_stem("../x y@ex") == "_x_y@ex"


async def test_maildir_source_takes_new_messages_once(tmp_path: Path) -> None:
    """Maildir: a message in new/ is handed over once and moved to cur/ without flags."""
    async with MaildirMailSource(tmp_path / "Maildir", interval=0.01) as source:
        assert await source.next_message(0.0) is None
        mailbox.Maildir(tmp_path / "Maildir").add(b"Subject: one\r\n\r\nbody\r\n")
        first = await source.next_message(1.0)
        assert first is not None
        assert first.raw.startswith(b"Subject: one")
        assert await source.next_message(0.05) is None
    assert list_names(tmp_path / "Maildir" / "new") == []
    [name] = list_names(tmp_path / "Maildir" / "cur")
    assert name.endswith(":2,")


def list_names(folder: Path) -> list[str]:
    """The file names in a folder."""
    return sorted(p.name for p in folder.iterdir())
