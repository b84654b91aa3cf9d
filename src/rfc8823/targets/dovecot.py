"""An IMAP server for clients that read their mail over IMAP: Debian's Dovecot on loopback.

:class:`Dovecot` starts ``dovecot -F`` with a configuration of its own in a fresh folder
(plain IMAP on one loopback port, a password file per user, Maildir homes), adds users while
it runs, and files messages into a user's INBOX with IMAP APPEND, as a delivery agent would.
It also shows what a client did: which messages it read (a FETCH of their content,
or the ``\\Seen`` flag; :meth:`Dovecot.wait_read`), whether it is waiting in IDLE right now
(:meth:`Dovecot.watching`) and whether it opened the INBOX after a message was filed
(:meth:`Dovecot.opened_after`), from Dovecot's log and per-session rawlogs
(:mod:`rfc8823.targets.imap_activity`).
Install it with ``apt-get install dovecot-imapd``; :func:`dovecot_binary` says whether it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Self

from rfc8823.targets.client import ImapAccount
from rfc8823.targets.imap_activity import MailboxActivity, idle_sessions
from rfc8823.world.imap import open_imap
from rfc8823.world.ports import unused_port
from rfc8823.world.service import Service

READY_TEXT = b"starting up"
HOST = "127.0.0.1"
RAWLOG = "rawlog"
"""Folder in each user's home where Dovecot writes every IMAP session's lines."""
_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")
_WATCH_INTERVAL = 0.05
UNPRIVILEGED = 65534
"""Dovecot refuses to open mailboxes as root; as root, mail belongs to ``nobody``."""
_SEARCHED = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")


def dovecot_binary() -> str | None:
    """The ``dovecot`` program, or None when Dovecot is not installed."""
    return shutil.which("dovecot") or next((p for p in _SEARCHED if os.access(p, os.X_OK)), None)


def _config(base: Path, port: int, uid: int, gid: int) -> str:
    return f"""
base_dir = {base}/run
state_dir = {base}/state
log_path = /dev/stderr
listen = {HOST}
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
mail_plugins = $mail_plugins notify mail_log
plugin {{
  mail_log_events = save expunge flag_change
  mail_log_fields = uid box msgid flags
}}
log_debug = event=imap_command_finished
rawlog_dir = %h/{RAWLOG}
"""


class Dovecot(Service):
    """Dovecot serving IMAP for test users; ``with`` or ``start()``/``stop()``.

    Its log (stderr) is read to the end on a thread of its own, so it never blocks on a
    full pipe; the last lines are kept for error messages.
    """

    def __init__(
        self, *, binary: str | None = None, port: int = 0, start_timeout: float = 10.0
    ) -> None:
        """``port`` pins the IMAP port (0: an unused one, chosen at start)."""
        self.binary = binary or dovecot_binary()
        self.start_timeout = start_timeout
        self.port = port
        self._requested_port = port
        self._base: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._log: list[bytes] = []
        self._lock = threading.Lock()
        self._uid = self._gid = -1
        self.activity = MailboxActivity()

    def start(self) -> Self:
        """Write the configuration and start Dovecot; RuntimeError if it does not come up."""
        if self.binary is None:
            raise RuntimeError("Dovecot is not installed (apt-get install dovecot-imapd)")
        if self._process is not None:
            raise RuntimeError("Dovecot is already running")
        self.port = self._requested_port or unused_port(HOST)
        base = self._base = Path(tempfile.mkdtemp(prefix="rfc8823-dovecot-"))
        root = os.geteuid() == 0
        uid, gid = (UNPRIVILEGED, UNPRIVILEGED) if root else (os.getuid(), os.getgid())
        self._uid, self._gid = uid, gid
        base.chmod(0o755)
        (base / "home").mkdir()
        if root:
            os.chown(base / "home", uid, gid)
        (base / "users").mkdir()
        (base / "dovecot.conf").write_text(_config(base, self.port, uid, gid))
        self._process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
            [self.binary, "-F", "-c", str(base / "dovecot.conf")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert self._process.stderr is not None
        threading.Thread(
            target=self._read_log, args=(self._process.stderr,), name="dovecot-log", daemon=True
        ).start()
        if not self._ready.wait(self.start_timeout):
            log = self.log_tail()
            self.stop()
            raise RuntimeError(f"Dovecot did not start within {self.start_timeout} s: {log}")
        return self

    def _read_log(self, stream: IO[bytes]) -> None:
        for line in stream:
            with self._lock:
                self._log = [*self._log[-19:], line]
            if READY_TEXT in line:
                self._ready.set()
            self.activity.feed(line.decode("utf-8", "replace").rstrip("\r\n"))
        self._ready.set()

    def log_tail(self) -> str:
        """The last lines Dovecot logged."""
        with self._lock:
            return b"".join(self._log).decode("utf-8", "replace").strip()

    def stop(self) -> None:
        """Stop Dovecot and remove its folder; safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(self.start_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(self.start_timeout)
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None

    def add_user(self, user: str, password: str) -> ImapAccount:
        """Give ``user`` a mailbox and a login: a password file of its own, read at login."""
        if any(c in user + password for c in ":/\r\n") or user.startswith("."):
            raise ValueError("user names and passwords may not contain ':', '/' or line breaks")
        if self._base is None:
            raise RuntimeError("Dovecot is not running")
        (self._base / "users" / user).write_text(f"{user}:{{PLAIN}}{password}\n")
        home = self._base / "home" / user
        for folder in (home, home / RAWLOG):
            folder.mkdir(exist_ok=True)
            if os.geteuid() == 0:
                os.chown(folder, self._uid, self._gid)
        return ImapAccount(HOST, self.port, user, password)

    def append(self, account: ImapAccount, message: bytes) -> int | None:
        """File a message into the account's INBOX with IMAP APPEND (blocking); its UID."""
        return self.append_many(account, [message])[0]

    def append_many(self, account: ImapAccount, messages: Sequence[bytes]) -> list[int | None]:
        """File several messages in one session, back to back, as one burst of new mail (a
        client in IDLE may hear of them in one notification); their UIDs (RFC 4315)."""
        client = open_imap(
            account.host,
            account.port,
            user=account.user,
            password=account.password,
            timeout=self.start_timeout,
        )
        uids: list[int | None] = []
        try:
            for message in messages:
                status, detail = client.append("INBOX", None, None, message)
                if status != "OK":
                    raise imaplib.IMAP4.error(f"APPEND for {account.user}: {detail!r}")
                found = _APPENDUID.search(b" ".join(d for d in detail if isinstance(d, bytes)))
                uids.append(int(found.group(1)) if found else None)
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()
        return uids

    def was_read(self, account: ImapAccount, uid: int) -> bool:
        """Whether a client fetched the message's content or flagged it ``\\Seen``."""
        return self.activity.was_read(account.user, uid)

    async def wait_read(
        self,
        account: ImapAccount,
        timeout: float,  # noqa: ASYNC109
        *,
        uid: int | None = None,
        message_id: str | None = None,
    ) -> bool:
        """Wait until a client read the message with this UID, or any copy of the message with
        this Message-ID (True), or ``timeout`` seconds pass (False).

        Event-driven: Dovecot logs each FETCH and flag change as it happens.
        """
        if uid is None and message_id is None:
            raise ValueError("wait_read needs the message's uid or Message-ID")
        return await asyncio.to_thread(
            self.activity.wait_read,
            account.user,
            timeout,
            uids=() if uid is None else (uid,),
            message_id=message_id,
        )

    def opened_after(self, account: ImapAccount, message_id: str) -> bool:
        """Whether a session of this account SELECTed the INBOX after the message with this
        Message-ID was filed there (it began looking with the message already in it)."""
        return self.activity.opened_after_save(account.user, message_id.strip())

    def watching(self, account: ImapAccount) -> bool:
        """Whether a client session of this account is in IDLE right now (RFC 2177)."""
        if self._base is None:
            return False
        rawlog = self._base / "home" / account.user / RAWLOG
        return bool(idle_sessions(rawlog, self.activity.ended))

    async def wait_watching(self, account: ImapAccount, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until a client session is in IDLE (True) or ``timeout`` passes (False).

        Polls the rawlogs (an IDLE that has not ended shows nowhere else).
        """
        deadline = time.monotonic() + timeout
        while not self.watching(account):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_WATCH_INTERVAL)
        return True
