"""What the client suite drives: an ACME client / ACME-aware MUA behind one small protocol.

The suite plays the CA and the mail world. For each test it starts a CA, offers the client a
mailbox (an SMTP endpoint the client listens on, a Maildir, or an IMAP account), a submission
server for its response, a DNS server for DKIM keys and the S/MIME trust anchors, and asks the
client to enroll one address. A new client is one class implementing :class:`ClientUnderTest`
(or a command template, :mod:`rfc8823.targets.command_client`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, Protocol, get_args, runtime_checkable

from rfc8823.csr import Usage

__all__ = [
    "MAILBOX_KINDS",
    "ClientCapabilities",
    "ClientUnderTest",
    "DkimSigner",
    "EnrollmentOutcome",
    "EnrollmentRequest",
    "ImapAccount",
    "KeyType",
    "MailboxAccess",
    "MailboxKind",
    "MailboxPacing",
    "Submission",
]

MailboxKind = Literal["smtp", "maildir", "imap"]
MAILBOX_KINDS: tuple[MailboxKind, ...] = get_args(MailboxKind)
KeyType = Literal["ec", "rsa", "ed25519"]
KEY_TYPES: tuple[KeyType, ...] = get_args(KeyType)
USAGES: tuple[Usage, ...] = get_args(Usage)

_LISTS = {"mailboxes": MAILBOX_KINDS, "usages": USAGES, "key_types": KEY_TYPES}
_NAMES = {"mailbox": "mailboxes", "usage": "usages", "key-type": "key_types"}


@dataclass(frozen=True)
class ClientCapabilities:
    """What a client declares; tests of anything undeclared report UNSUPPORTED.

    ``mailboxes``: the ways it reads the challenge email; ``usages`` and ``key_types``: the
    certificates it can request (RFC 8823 §3.3); ``signs_dkim``: it DKIM-signs its response
    itself with the key it is given (otherwise the suite's submission server signs, and the
    RESP-DKIM checks would judge the suite); ``smime``: it verifies S/MIME-signed challenges
    against the trust anchors it is given; ``eai``: it enrolls internationalized addresses;
    ``restart``: it can be started again on the state its last run left (``restart()``).
    """

    mailboxes: tuple[MailboxKind, ...] = ("smtp",)
    usages: tuple[Usage, ...] = ("both",)
    key_types: tuple[KeyType, ...] = ("ec",)
    signs_dkim: bool = False
    smime: bool = False
    eai: bool = False
    restart: bool = False

    @classmethod
    def from_declarations(cls, texts: Sequence[str]) -> ClientCapabilities:
        """Capabilities from ``NAME`` or ``NAME=V1,V2`` items; ValueError for unknown ones.

        Flags: ``signs-dkim``, ``smime``, ``eai``, ``restart``; lists:
        ``mailbox=smtp,maildir,imap``, ``usage=signing,encryption,both``,
        ``key-type=ec,rsa,ed25519``.
        """
        values: dict[str, object] = {}
        flags = {f.name for f in fields(cls)} - set(_LISTS)
        for text in texts:
            name, equals, value = (part.strip() for part in text.partition("="))
            attribute = _NAMES.get(name, name.replace("-", "_"))
            if attribute in _LISTS and equals:
                chosen = tuple(item.strip() for item in value.split(",") if item.strip())
                allowed = _LISTS[attribute]
                wrong = [item for item in chosen if item not in allowed]
                if wrong or not chosen:
                    raise ValueError(f"{name}={value!r}: choose from {', '.join(allowed)}")
                values[attribute] = chosen
            elif attribute in flags and not equals:
                values[attribute] = True
            else:
                known = sorted(
                    [*(n.replace("_", "-") for n in flags), *(f"{n}=..." for n in _NAMES)]
                )
                raise ValueError(f"unknown capability {text!r}; known: {', '.join(known)}")
        return cls(**values)  # type: ignore[arg-type]

    def declared(self, name: str) -> bool:
        """Whether the flag ``name`` (``signs_dkim``, ``smime``, ``eai``, ``restart``) is
        declared."""
        value = getattr(self, name.replace("-", "_"), None)
        if not isinstance(value, bool):
            raise ValueError(f"{name!r} is not a flag of {type(self).__name__}")
        return value

    def summary(self) -> str:
        """One line for the report header."""
        flags = [f.name for f in fields(self) if getattr(self, f.name) is True]
        lists = [f"{name}={','.join(getattr(self, name))}" for name in _LISTS]
        return ", ".join([*lists, *flags])


@dataclass(frozen=True)
class MailboxPacing:
    """How the suite hands challenge mail to the client's mailbox, as the client needs it.

    ``delay``: seconds after the CA sent a message before it is delivered (real mail takes
    that long; a client that opens its mailbox only after it has asked for the challenge
    needs it); ``spacing``: seconds at least between two deliveries (one new message per IMAP
    IDLE notification); ``when_watching``: for IMAP, deliver only once the client is in IDLE on
    the suite's Dovecot (bounded by the enrollment). The defaults deliver at once, back to back.
    """

    delay: float = 0.0
    spacing: float = 0.0
    when_watching: bool = False

    def __post_init__(self) -> None:
        for name in ("delay", "spacing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")
        if not isinstance(self.when_watching, bool):
            raise ValueError(f"when_watching must be true or false, not {self.when_watching!r}")


@dataclass(frozen=True)
class ImapAccount:
    """An IMAP login on a server the suite runs (plain IMAP on loopback)."""

    host: str
    port: int
    user: str
    password: str


@dataclass(frozen=True)
class MailboxAccess:
    """Where the challenge email reaches the client: exactly the field of ``kind`` is set.

    ``smtp`` is the endpoint the client must listen on (it is the address's MX: the suite
    delivers there); ``maildir`` a Maildir the suite delivers into; ``imap`` an account whose
    INBOX the suite files the email into.
    """

    kind: MailboxKind
    smtp: tuple[str, int] | None = None
    maildir: Path | None = None
    imap: ImapAccount | None = None

    def __post_init__(self) -> None:
        given = {"smtp": self.smtp, "maildir": self.maildir, "imap": self.imap}
        others = [value for kind, value in given.items() if kind != self.kind]
        if given[self.kind] is None or any(value is not None for value in others):
            raise ValueError(f"a {self.kind} mailbox sets exactly its own endpoint: {given}")


@dataclass(frozen=True)
class Submission:
    """The submission server for the response (RFC 6409, STARTTLS, AUTH PLAIN/LOGIN)."""

    host: str
    port: int
    user: str
    password: str
    tls: Literal["none", "starttls", "implicit"] = "starttls"


@dataclass(frozen=True)
class DkimSigner:
    """The user domain's DKIM key for a client that signs its response itself (RFC 6376)."""

    key_path: Path
    selector: str
    domain: str


@dataclass(frozen=True)
class EnrollmentRequest:
    """One enrollment the suite asks for, and everything the client needs to reach the world.

    ``ca_bundle`` is the PEM the CA's HTTPS, the submission server's STARTTLS and nothing
    else chain to; ``dns`` the name server for DKIM keys; ``smime_trust`` the roots S/MIME
    challenges chain to; ``workdir`` an empty folder for the key and certificate chain (and
    whatever state the client keeps); ``timeout`` the bound on the whole enrollment (seconds);
    ``log_dir`` where a client run as a program leaves its output (None: not kept);
    ``resolv_conf`` a resolv.conf naming the world's DNS on port 53, for a client that only
    uses the system resolver (None: not offered).
    """

    directory_url: str
    ca_bundle: Path
    email: str
    usage: Usage
    key_type: KeyType
    mailbox: MailboxAccess
    submission: Submission
    dns: tuple[str, int]
    smime_trust: tuple[Path, ...]
    dkim: DkimSigner | None
    workdir: Path
    timeout: float
    log_dir: Path | None = None
    resolv_conf: Path | None = None


@dataclass(frozen=True)
class EnrollmentOutcome:
    """How an enrollment ended: issued with a key and chain, or why not.

    ``exit_status``, ``stdout`` and ``stderr`` are a command's; ``detail`` says what went
    wrong in the client's own words (or the suite's, e.g. a timeout).
    """

    issued: bool
    detail: str = ""
    exit_status: int | None = None
    key_path: Path | None = None
    chain_path: Path | None = None
    stdout: str = ""
    stderr: str = field(default="", repr=False)
    elapsed: float = 0.0

    def describe(self) -> str:
        """A short account for assertion messages."""
        if self.issued:
            return f"issued in {self.elapsed:.2f} s ({self.chain_path})"
        status = f"exit status {self.exit_status}: " if self.exit_status is not None else ""
        tail = self.stderr.strip().splitlines()[-5:]
        shown = ("; stderr: " + " | ".join(tail)) if tail else ""
        return f"not issued after {self.elapsed:.2f} s: {status}{self.detail}{shown}"


@runtime_checkable
class ClientUnderTest(Protocol):
    """An ACME client the client suite can run (docs/architecture.md: targets wrap implementations).

    ``enroll`` is called once per test (or per example), each time for a fresh address, CA
    and mailbox; it returns when the client has finished, successfully or not, and never
    raises for a failed enrollment. ``restart`` runs it again on the state it kept.
    """

    @property
    def name(self) -> str:
        """Implementation name, as reports show it."""
        ...

    @property
    def version(self) -> str:
        """Implementation version ("" when unknown)."""
        ...

    @property
    def capabilities(self) -> ClientCapabilities:
        """What the client declares it implements."""
        ...

    async def enroll(self, request: EnrollmentRequest) -> EnrollmentOutcome:
        """Run one enrollment to its end and say how it ended."""
        ...

    async def restart(self, request: EnrollmentRequest) -> EnrollmentOutcome:
        """Run the client again for ``request`` on the state its last run left in the workdir.

        As a user restarts a client: same address, CA, mailbox and state folder. Only called
        when the ``restart`` capability is declared; the suite then checks that what the client
        already answered stays answered (FLOW-6).
        """
        ...
