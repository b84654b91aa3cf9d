"""Durable state of the reference CA in SQLite: accounts, orders, authorizations, challenges,
certificates and the log of received replies.

One connection (WAL, one lock, explicit transactions). The RFC 8555 §7.1.6 state machines
are enforced here: an illegal transition raises ``records.IllegalTransition`` and rolls back
(A-STATE-1). Every committed change calls ``ChangeFeed.notify``. Expiry is applied when state
is read, so a restart with the same file resumes exactly where the last process stopped.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from rfc8823.acme.identifier import Identifier
from rfc8823.acme.objects import (
    AccountStatus,
    AuthorizationStatus,
    ChallengeStatus,
    OrderStatus,
)
from rfc8823.acme.problems import Problem, ProblemType
from rfc8823.events import ChangeFeed
from rfc8823.faults import NO_FAULTS, FaultSet
from rfc8823.server.columns import insert
from rfc8823.server.records import (
    STATUS_TYPES,
    TABLE_RECORDS,
    AccountRecord,
    AuthzRecord,
    CertificateRecord,
    ChallengeRecord,
    OrderRecord,
    ReplyRecord,
    ReplyVerdict,
    check_transition,
)

_T = TypeVar("_T")

ORDER_SURVIVES = "order-survives-failed-authorization"
VALID_NEVER_EXPIRES = "valid-authz-never-expires"
STATE_FAULTS = (ORDER_SURVIVES, VALID_NEVER_EXPIRES)
"""Faults that bend the RFC 8555 §7.1.6 state machines where the store enforces them: an order
kept pending when its authorization fails (A-STATE-2), valid authorizations that never expire
(A-STATE-3)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, jwk TEXT NOT NULL, thumbprint TEXT NOT NULL UNIQUE,
    contact TEXT NOT NULL, status TEXT NOT NULL, eab_kid TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id),
    status TEXT NOT NULL, identifiers TEXT NOT NULL, expires REAL NOT NULL, error TEXT,
    certificate_id TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS authorizations (
    id TEXT PRIMARY KEY, order_id TEXT NOT NULL REFERENCES orders(id), position INTEGER NOT NULL,
    account_id TEXT NOT NULL, identifier_type TEXT NOT NULL, identifier_value TEXT NOT NULL,
    address TEXT NOT NULL, status TEXT NOT NULL, expires REAL NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS authz_by_address ON authorizations(address, created_at);
CREATE INDEX IF NOT EXISTS authz_by_order ON authorizations(order_id, position);
CREATE TABLE IF NOT EXISTS challenges (
    id TEXT PRIMARY KEY, authz_id TEXT NOT NULL REFERENCES authorizations(id),
    type TEXT NOT NULL, status TEXT NOT NULL, token_part2 TEXT NOT NULL,
    token_part1 TEXT UNIQUE, message_id TEXT, sent_at REAL, send_error TEXT,
    client_posted_at REAL, reply_accepted_at REAL, error TEXT, validated REAL);
CREATE INDEX IF NOT EXISTS challenge_by_authz ON challenges(authz_id);
CREATE INDEX IF NOT EXISTS challenge_by_message_id ON challenges(message_id);
CREATE TABLE IF NOT EXISTS certificates (
    id TEXT PRIMARY KEY, order_id TEXT NOT NULL REFERENCES orders(id),
    account_id TEXT NOT NULL, serial TEXT NOT NULL UNIQUE, der BLOB NOT NULL,
    pem_chain TEXT NOT NULL, not_after REAL NOT NULL, revoked_at REAL,
    revocation_reason INTEGER);
CREATE TABLE IF NOT EXISTS replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT, received_at REAL NOT NULL, mail_from TEXT NOT NULL,
    peer TEXT NOT NULL, size INTEGER NOT NULL, token_part1 TEXT, challenge_id TEXT,
    verdict TEXT NOT NULL, reasons TEXT NOT NULL, detail TEXT NOT NULL);
"""


def new_id() -> str:
    """A random URL-safe resource identifier."""
    return secrets.token_urlsafe(12)


class Store:
    """The CA's database; thread-safe; every committed change notifies ``feed``.

    ``reply_wait`` (seconds), when set, makes a processing challenge invalid if no acceptable
    reply came within that time of the client's POST. ``faults`` (self-validation only) bend
    the state machines where the store enforces them (``STATE_FAULTS``).
    """

    def __init__(
        self,
        path: Path | None,
        feed: ChangeFeed | None = None,
        *,
        reply_wait: float | None = None,
        faults: FaultSet = NO_FAULTS,
    ) -> None:
        self.path = path
        self.feed = feed or ChangeFeed()
        self.reply_wait = reply_wait
        self.faults = faults
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            str(path) if path is not None else ":memory:",
            check_same_thread=False,
            isolation_level=None,
        )
        self._db.row_factory = sqlite3.Row
        with self._lock:
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        self._dirty = False

    def close(self) -> None:
        """Close the database (a later use raises)."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; notify the feed after a commit that changed something."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._dirty = False
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            changed = self._dirty
        if changed:
            self.feed.notify()

    def _set_status(
        self, db: sqlite3.Connection, table: str, row_id: str, new: StrEnum, **extra: object
    ) -> None:
        """Move a row to ``new`` (A-STATE-1), setting the record fields ``extra`` with it."""
        row = db.execute(f"SELECT status FROM {table} WHERE id = ?", (row_id,)).fetchone()  # noqa: S608
        if row is None:
            raise KeyError(f"no {table.removesuffix('s')} {row_id!r}")
        current = STATUS_TYPES[table](row["status"])
        check_transition(table, current, new)
        self._update(db, table, row_id, status=new, **extra)

    def _update(self, db: sqlite3.Connection, table: str, row_id: str, **fields: object) -> None:
        """Set record fields of one row, encoded as the table's record declares them."""
        columns = TABLE_RECORDS[table].encode(**fields)
        assignments = ", ".join(f"{name} = ?" for name in columns)
        db.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?",  # noqa: S608
            (*columns.values(), row_id),
        )
        self._dirty = True

    # -- accounts ---------------------------------------------------------------------

    def create_account(
        self,
        *,
        jwk: Mapping[str, Any],
        thumbprint: str,
        contact: Sequence[str],
        eab_kid: str | None,
        now: float,
    ) -> AccountRecord:
        """Store a new valid account; ``KeyError`` is never raised, a duplicate key is."""
        account_id = new_id()
        row = AccountRecord.encode(
            id=account_id,
            jwk=jwk,
            thumbprint=thumbprint,
            contact=tuple(contact),
            status=AccountStatus.VALID,
            eab_kid=eab_kid,
            created_at=now,
        )
        with self._tx() as db:
            insert(db, "accounts", row)
            self._dirty = True
        account = self.account(account_id)
        assert account is not None
        return account

    def account(self, account_id: str) -> AccountRecord | None:
        """The account with this id."""
        return self._one(
            "SELECT * FROM accounts WHERE id = ?", (account_id,), AccountRecord.from_row
        )

    def account_by_thumbprint(self, thumbprint: str) -> AccountRecord | None:
        """The account whose key has this RFC 7638 thumbprint."""
        return self._one(
            "SELECT * FROM accounts WHERE thumbprint = ?", (thumbprint,), AccountRecord.from_row
        )

    def update_contact(self, account_id: str, contact: Sequence[str]) -> None:
        """Replace an account's contact URLs (RFC 8555 §7.3.2)."""
        with self._tx() as db:
            self._update(db, "accounts", account_id, contact=tuple(contact))

    def deactivate_account(self, account_id: str) -> None:
        """valid → deactivated (RFC 8555 §7.3.6)."""
        with self._tx() as db:
            self._set_status(db, "accounts", account_id, AccountStatus.DEACTIVATED)

    def change_key(self, account_id: str, jwk: Mapping[str, Any], thumbprint: str) -> None:
        """Bind the account to a new key (RFC 8555 §7.3.5); a key in use raises."""
        with self._tx() as db:
            self._update(db, "accounts", account_id, jwk=jwk, thumbprint=thumbprint)

    # -- orders, authorizations, challenges -------------------------------------------

    def create_order(
        self,
        *,
        account_id: str,
        identifiers: Sequence[Identifier],
        addresses: Sequence[str],
        challenge_type: str,
        token_part2s: Sequence[str],
        now: float,
        order_expires: float,
        authz_expires: float,
    ) -> OrderRecord:
        """A pending order with one pending authorization and challenge per identifier."""
        order_id = new_id()
        with self._tx() as db:
            order_row = OrderRecord.encode(
                id=order_id,
                account_id=account_id,
                status=OrderStatus.PENDING,
                identifiers=tuple(identifiers),
                expires=order_expires,
                created_at=now,
            )
            insert(db, "orders", order_row)
            for position, (identifier, address, part2) in enumerate(
                zip(identifiers, addresses, token_part2s, strict=True)
            ):
                authz_id = new_id()
                authz_row = AuthzRecord.encode(
                    id=authz_id,
                    order_id=order_id,
                    account_id=account_id,
                    identifier=identifier,
                    address=address,
                    status=AuthorizationStatus.PENDING,
                    expires=authz_expires,
                    created_at=now,
                )
                insert(db, "authorizations", {**authz_row, "position": position})
                challenge_row = ChallengeRecord.encode(
                    id=new_id(),
                    authz_id=authz_id,
                    type=challenge_type,
                    status=ChallengeStatus.PENDING,
                    token_part2=part2,
                )
                insert(db, "challenges", challenge_row)
            self._dirty = True
        order = self.order(order_id, now)
        assert order is not None
        return order

    def order(self, order_id: str, now: float) -> OrderRecord | None:
        """The order, after applying expiry as of ``now``."""
        self.expire(now)
        return self._one("SELECT * FROM orders WHERE id = ?", (order_id,), self._order)

    def orders_of(self, account_id: str) -> list[str]:
        """Ids of an account's orders, oldest first (RFC 8555 §7.1.2.1)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM orders WHERE account_id = ? ORDER BY created_at, id", (account_id,)
            ).fetchall()
        return [row["id"] for row in rows]

    def authorization(self, authz_id: str, now: float) -> AuthzRecord | None:
        """The authorization, after applying expiry as of ``now``."""
        self.expire(now)
        return self._one("SELECT * FROM authorizations WHERE id = ?", (authz_id,), self._authz)

    def challenge(self, challenge_id: str, now: float) -> ChallengeRecord | None:
        """The challenge, after applying expiry as of ``now``."""
        self.expire(now)
        return self._one(
            "SELECT * FROM challenges WHERE id = ?", (challenge_id,), ChallengeRecord.from_row
        )

    def challenge_by_token_part1(self, token_part1: str) -> ChallengeRecord | None:
        """The challenge whose email carried this token-part1 (AMB-11, SRV-VAL-5)."""
        return self._one(
            "SELECT * FROM challenges WHERE token_part1 = ?",
            (token_part1,),
            ChallengeRecord.from_row,
        )

    def challenge_by_message_id(self, message_id: str) -> ChallengeRecord | None:
        """The challenge whose email had this Message-ID (AMB-11 fallback)."""
        return self._one(
            "SELECT * FROM challenges WHERE message_id = ?", (message_id,), ChallengeRecord.from_row
        )

    def challenges_of(self, authz_id: str) -> list[ChallengeRecord]:
        """An authorization's challenges."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM challenges WHERE authz_id = ? ORDER BY rowid", (authz_id,)
            ).fetchall()
        return [ChallengeRecord.from_row(row) for row in rows]

    def challenges_for_address(self, address: str, account_id: str) -> list[ChallengeRecord]:
        """Every challenge of ``account_id``'s authorizations for ``address``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.* FROM challenges c JOIN authorizations a ON a.id = c.authz_id "
                "WHERE a.address = ? AND a.account_id = ? ORDER BY c.rowid",
                (address, account_id),
            ).fetchall()
        return [ChallengeRecord.from_row(row) for row in rows]

    def mails_for_address_since(self, address: str, since: float) -> list[float]:
        """Creation times of authorizations (each mails once) for ``address`` since (SEC-8)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT created_at FROM authorizations WHERE address = ? AND created_at >= ? "
                "ORDER BY created_at",
                (address, since),
            ).fetchall()
        return [row["created_at"] for row in rows]

    def other_thumbprints(self, address: str, account_id: str) -> tuple[str, ...]:
        """Thumbprints of other accounts that ordered ``address`` (to name SEC-7 slips)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT ac.thumbprint FROM authorizations a "
                "JOIN accounts ac ON ac.id = a.account_id "
                "WHERE a.address = ? AND a.account_id != ? ORDER BY ac.thumbprint",
                (address, account_id),
            ).fetchall()
        return tuple(row["thumbprint"] for row in rows)

    def claim_token_part1(
        self, challenge_id: str, token_part1: str, message_id: str
    ) -> tuple[ChallengeRecord, bool]:
        """Record token-part1 and Message-ID before the email goes out (TOK-2;
        docs/decisions.md#decision-4).

        Returns the challenge and whether this call assigned them; a challenge that already
        has a token-part1 keeps it (one email per authorization, AMB-10).
        """
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE challenges SET token_part1 = ?, message_id = ? "
                "WHERE id = ? AND token_part1 IS NULL",
                (token_part1, message_id, challenge_id),
            )
            claimed = cursor.rowcount == 1
            self._dirty = self._dirty or claimed
        record = self._one(
            "SELECT * FROM challenges WHERE id = ?", (challenge_id,), ChallengeRecord.from_row
        )
        if record is None:
            raise KeyError(f"no challenge {challenge_id!r}")
        return record, claimed

    def take_token_part1(self, challenge_id: str, token_part1: str, message_id: str) -> None:
        """Give ``token_part1`` to this challenge, taking it from any that holds it: what a CA
        that derives tokens from the address does (the ``token-part1-reused`` fault; TOK-2)."""
        with self._tx() as db:
            db.execute(
                "UPDATE challenges SET token_part1 = NULL WHERE token_part1 = ? AND id != ?",
                (token_part1, challenge_id),
            )
        self.claim_token_part1(challenge_id, token_part1, message_id)
        self._dirty = True

    def mark_sent(self, challenge_id: str, now: float, error: str | None = None) -> None:
        """Record the outcome of sending the challenge email."""
        with self._tx() as db:
            db.execute(
                "UPDATE challenges SET sent_at = ?, send_error = ? WHERE id = ?",
                (None if error else now, error, challenge_id),
            )
            self._dirty = True

    def unsent_challenges(self) -> list[ChallengeRecord]:
        """Challenges with a token-part1 whose email never went out (resume after a restart)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.* FROM challenges c JOIN authorizations a ON a.id = c.authz_id "
                "WHERE c.token_part1 IS NOT NULL AND c.sent_at IS NULL AND a.status = ?",
                (AuthorizationStatus.PENDING.value,),
            ).fetchall()
        return [ChallengeRecord.from_row(row) for row in rows]

    def mark_client_ready(self, challenge_id: str, now: float) -> ChallengeRecord:
        """The client POSTed the challenge (RFC 8555 §7.5.1): pending → processing, and valid
        at once if an acceptable reply is already in (docs/decisions.md#decision-4). Other states
        are left alone.
        """
        self.expire(now)
        with self._tx() as db:
            challenge = self._challenge_in(db, challenge_id)
            authz = self._authz_row(db, challenge.authz_id)
            if (
                challenge.status is ChallengeStatus.PENDING
                and AuthorizationStatus(authz["status"]) is AuthorizationStatus.PENDING
            ):
                self._set_status(
                    db, "challenges", challenge_id, ChallengeStatus.PROCESSING, client_posted_at=now
                )
                if challenge.reply_accepted_at is not None:
                    self._validate(db, challenge_id, now)
        record = self.challenge(challenge_id, now)
        assert record is not None
        return record

    def apply_reply(
        self, challenge_id: str, *, acceptable: bool, incorrect: Problem | None, now: float
    ) -> ReplyVerdict:
        """Apply one judged reply to its challenge (SRV-VAL-1..6, A-AUTHZ-2).

        ``acceptable`` records the reply and validates if the client has POSTed;
        ``incorrect`` (an authentic wrong response) makes challenge, authorization and order
        invalid. Late replies (authorization no longer pending or expired) change nothing.
        """
        self.expire(now)
        with self._tx() as db:
            challenge = self._challenge_in(db, challenge_id)
            authz = self._authz_row(db, challenge.authz_id)
            if challenge.status is ChallengeStatus.VALID:
                return ReplyVerdict.DUPLICATE
            if (
                AuthorizationStatus(authz["status"]) is not AuthorizationStatus.PENDING
                or challenge.status is ChallengeStatus.INVALID
                or authz["expires"] <= now
            ):
                return ReplyVerdict.LATE
            if incorrect is not None:
                if challenge.status is ChallengeStatus.PENDING:
                    self._set_status(db, "challenges", challenge_id, ChallengeStatus.PROCESSING)
                self._invalidate(db, challenge_id, incorrect)
                return ReplyVerdict.INCORRECT
            if not acceptable:
                return ReplyVerdict.IGNORED
            if challenge.reply_accepted_at is None:
                db.execute(
                    "UPDATE challenges SET reply_accepted_at = ? WHERE id = ?", (now, challenge_id)
                )
                self._dirty = True
            if challenge.status is ChallengeStatus.PROCESSING:
                self._validate(db, challenge_id, now)
                return ReplyVerdict.VALIDATED
            return ReplyVerdict.ACCEPTED

    def deactivate_authorization(self, authz_id: str, now: float) -> None:
        """pending/valid → deactivated (RFC 8555 §7.5.2); a pending or ready order fails."""
        self.expire(now)
        with self._tx() as db:
            self._set_status(db, "authorizations", authz_id, AuthorizationStatus.DEACTIVATED)
            order_id = self._authz_row(db, authz_id)["order_id"]
            self._authorization_ended(
                db,
                order_id,
                Problem.of(ProblemType.UNAUTHORIZED, "an authorization was deactivated"),
            )

    def reopen(self, challenge_id: str) -> None:
        """The challenge, its authorization and order pending again, past RFC 8555 §7.1.6's
        final states: only the ``invalid-challenge-retried`` fault calls this (A-STATE-1)."""
        with self._tx() as db:
            challenge = self._challenge_in(db, challenge_id)
            authz = self._authz_row(db, challenge.authz_id)
            self._update(db, "challenges", challenge_id, status=ChallengeStatus.PENDING, error=None)
            self._update(db, "authorizations", authz["id"], status=AuthorizationStatus.PENDING)
            self._update(db, "orders", authz["order_id"], status=OrderStatus.PENDING, error=None)

    def _challenge_in(self, db: sqlite3.Connection, challenge_id: str) -> ChallengeRecord:
        row = db.execute("SELECT * FROM challenges WHERE id = ?", (challenge_id,)).fetchone()
        if row is None:
            raise KeyError(f"no challenge {challenge_id!r}")
        return ChallengeRecord.from_row(row)

    @staticmethod
    def _authz_row(db: sqlite3.Connection, authz_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM authorizations WHERE id = ?", (authz_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no authorization {authz_id!r}")
        return row

    def _validate(self, db: sqlite3.Connection, challenge_id: str, now: float) -> None:
        """processing → valid; its authorization → valid; the order → ready when all are."""
        self._set_status(db, "challenges", challenge_id, ChallengeStatus.VALID, validated=now)
        authz_id = self._challenge_in(db, challenge_id).authz_id
        self._set_status(db, "authorizations", authz_id, AuthorizationStatus.VALID)
        order_id = self._authz_row(db, authz_id)["order_id"]
        states = {
            row["status"]
            for row in db.execute(
                "SELECT status FROM authorizations WHERE order_id = ?", (order_id,)
            )
        }
        order = db.execute("SELECT status FROM orders WHERE id = ?", (order_id,)).fetchone()
        if states == {AuthorizationStatus.VALID.value} and order["status"] == "pending":
            self._set_status(db, "orders", order_id, OrderStatus.READY)

    def _invalidate(self, db: sqlite3.Connection, challenge_id: str, problem: Problem) -> None:
        """processing → invalid with ``problem``; authorization and order → invalid."""
        self._set_status(db, "challenges", challenge_id, ChallengeStatus.INVALID, error=problem)
        authz_id = self._challenge_in(db, challenge_id).authz_id
        self._set_status(db, "authorizations", authz_id, AuthorizationStatus.INVALID)
        self._authorization_ended(db, self._authz_row(db, authz_id)["order_id"], problem)

    def _authorization_ended(self, db: sqlite3.Connection, order_id: str, problem: Problem) -> None:
        """An authorization of the order ended other than valid: the order fails with it
        (RFC 8555 §7.1.6, A-STATE-2), unless ``order-survives-failed-authorization``."""
        if not self.faults.on(ORDER_SURVIVES):
            self._fail_order(db, order_id, problem)

    def _fail_order(self, db: sqlite3.Connection, order_id: str, problem: Problem) -> None:
        order = db.execute("SELECT status FROM orders WHERE id = ?", (order_id,)).fetchone()
        if order["status"] in (OrderStatus.PENDING.value, OrderStatus.READY.value):
            self._set_status(db, "orders", order_id, OrderStatus.INVALID, error=problem)

    def expire(self, now: float) -> None:
        """Apply lifetimes as of ``now``: authorizations → expired and their orders → invalid,
        orders past ``expires`` → invalid, POSTed challenges past ``reply_wait`` → invalid.
        """
        with self._lock:
            stale = self._db.execute(
                f"SELECT 1 FROM authorizations WHERE status IN ({self._expiring}) "  # noqa: S608
                "AND expires <= ? UNION ALL "
                "SELECT 1 FROM orders WHERE status IN ('pending', 'ready') AND expires <= ? "
                "UNION ALL SELECT 1 FROM challenges WHERE status = 'processing' "
                "AND reply_accepted_at IS NULL AND client_posted_at <= ? LIMIT 1",
                (now, now, now - self.reply_wait if self.reply_wait is not None else -1.0),
            ).fetchone()
            if stale is None:
                return
            with self._tx() as db:
                self._expire_in(db, now)

    @property
    def _expiring(self) -> str:
        """The authorization states that expire (SQL): pending and valid (A-STATE-3), only
        pending under ``valid-authz-never-expires``."""
        return "'pending'" if self.faults.on(VALID_NEVER_EXPIRES) else "'pending', 'valid'"

    def _expire_in(self, db: sqlite3.Connection, now: float) -> None:
        for row in db.execute(
            "SELECT id, order_id FROM authorizations "  # noqa: S608
            f"WHERE status IN ({self._expiring}) AND expires <= ?",
            (now,),
        ).fetchall():
            self._set_status(db, "authorizations", row["id"], AuthorizationStatus.EXPIRED)
            self._authorization_ended(
                db,
                row["order_id"],
                Problem.of(ProblemType.MALFORMED, "an authorization expired (SRV-VAL-4)"),
            )
        for row in db.execute(
            "SELECT id FROM orders WHERE status IN ('pending', 'ready') AND expires <= ?", (now,)
        ).fetchall():
            self._fail_order(db, row["id"], Problem.of(ProblemType.MALFORMED, "the order expired"))
        if self.reply_wait is not None:
            for row in db.execute(
                "SELECT id FROM challenges WHERE status = 'processing' "
                "AND reply_accepted_at IS NULL AND client_posted_at <= ?",
                (now - self.reply_wait,),
            ).fetchall():
                self._invalidate(
                    db,
                    row["id"],
                    Problem.of(
                        ProblemType.INCORRECT_RESPONSE,
                        f"no authentic reply within {self.reply_wait:g} s of the challenge POST",
                    ),
                )

    # -- finalize and certificates ----------------------------------------------------

    def start_processing(self, order_id: str) -> None:
        """ready → processing (RFC 8555 §7.4, finalize accepted)."""
        with self._tx() as db:
            self._set_status(db, "orders", order_id, OrderStatus.PROCESSING)

    def fail_processing(self, order_id: str, problem: Problem) -> None:
        """processing → invalid with ``problem`` (issuance failed)."""
        with self._tx() as db:
            self._set_status(db, "orders", order_id, OrderStatus.INVALID, error=problem)

    def store_certificate(
        self,
        order_id: str,
        *,
        account_id: str,
        serial: str,
        der: bytes,
        pem_chain: str,
        not_after: float,
    ) -> CertificateRecord:
        """Store an issued certificate and move the order processing → valid."""
        cert_id = new_id()
        row = CertificateRecord.encode(
            id=cert_id,
            order_id=order_id,
            account_id=account_id,
            serial=serial,
            der=der,
            pem_chain=pem_chain,
            not_after=not_after,
        )
        with self._tx() as db:
            insert(db, "certificates", row)
            self._set_status(db, "orders", order_id, OrderStatus.VALID, certificate_id=cert_id)
        cert = self.certificate(cert_id)
        assert cert is not None
        return cert

    def certificate(self, cert_id: str) -> CertificateRecord | None:
        """The certificate with this id."""
        return self._one(
            "SELECT * FROM certificates WHERE id = ?", (cert_id,), CertificateRecord.from_row
        )

    def certificate_by_der(self, der: bytes) -> CertificateRecord | None:
        """The certificate whose leaf DER is exactly ``der`` (revokeCert, RFC 8555 §7.6)."""
        return self._one(
            "SELECT * FROM certificates WHERE der = ?", (der,), CertificateRecord.from_row
        )

    def revoke(self, cert_id: str, reason: int, now: float) -> bool:
        """Mark revoked; False if it already was (``alreadyRevoked``)."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE certificates SET revoked_at = ?, revocation_reason = ? "
                "WHERE id = ? AND revoked_at IS NULL",
                (now, reason, cert_id),
            )
            self._dirty = cursor.rowcount == 1
            return self._dirty

    def revoked_certificates(self, now: float) -> list[CertificateRecord]:
        """Revoked certificates not yet expired at ``now``, oldest revocation first (the CRL)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM certificates WHERE revoked_at IS NOT NULL AND not_after > ? "
                "ORDER BY revoked_at",
                (now,),
            ).fetchall()
        return [CertificateRecord.from_row(row) for row in rows]

    def has_valid_authorization(self, account_id: str, address: str, now: float) -> bool:
        """Whether the account holds a valid authorization for ``address`` (revocation right)."""
        self.expire(now)
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM authorizations WHERE account_id = ? AND address = ? "
                "AND status = 'valid' LIMIT 1",
                (account_id, address),
            ).fetchone()
        return row is not None

    # -- reply log -------------------------------------------------------------------

    def record_reply(
        self,
        *,
        received_at: float,
        mail_from: str,
        peer: str,
        size: int,
        token_part1: str | None,
        challenge_id: str | None,
        verdict: ReplyVerdict,
        reasons: Sequence[str],
        detail: str,
    ) -> ReplyRecord:
        """Append one entry to the durable reply log."""
        row = ReplyRecord.encode(
            received_at=received_at,
            mail_from=mail_from,
            peer=peer,
            size=size,
            token_part1=token_part1,
            challenge_id=challenge_id,
            verdict=verdict,
            reasons=tuple(reasons),
            detail=detail,
        )
        with self._tx() as db:
            cursor = insert(db, "replies", row)
            self._dirty = True
            row_id = cursor.lastrowid
        reply = self._one("SELECT * FROM replies WHERE id = ?", (row_id,), ReplyRecord.from_row)
        assert reply is not None
        return reply

    def replies(self, challenge_id: str | None = None) -> list[ReplyRecord]:
        """The reply log in arrival order, or the entries for one challenge."""
        query = "SELECT * FROM replies ORDER BY id"
        args: tuple[str, ...] = ()
        if challenge_id is not None:
            query, args = (
                "SELECT * FROM replies WHERE challenge_id = ? ORDER BY id",
                (challenge_id,),
            )
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [ReplyRecord.from_row(row) for row in rows]

    # -- row mapping -------------------------------------------------------------------

    def _one(
        self,
        query: str,
        args: Sequence[Any],
        build: Callable[[sqlite3.Row], _T],
    ) -> _T | None:
        with self._lock:
            row = self._db.execute(query, args).fetchone()
            return None if row is None else build(row)

    def _order(self, row: sqlite3.Row) -> OrderRecord:
        authz_ids = tuple(
            r["id"]
            for r in self._db.execute(
                "SELECT id FROM authorizations WHERE order_id = ? ORDER BY position", (row["id"],)
            )
        )
        return OrderRecord.from_row(row, authz_ids=authz_ids)

    def _authz(self, row: sqlite3.Row) -> AuthzRecord:
        challenge_ids = tuple(
            r["id"]
            for r in self._db.execute(
                "SELECT id FROM challenges WHERE authz_id = ? ORDER BY rowid", (row["id"],)
            )
        )
        return AuthzRecord.from_row(row, challenge_ids=challenge_ids)
