"""Configuration of the reference CA: HTTPS listener, store, mail wiring, tokens, lifetimes, EAB.

A frozen :class:`ServerConfig` built in code, from a TOML file (:meth:`ServerConfig.from_toml`)
or from both with command-line overrides (:meth:`ServerConfig.with_overrides`).
"""

from __future__ import annotations

import dataclasses
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from rfc8823.auth.resolver import DnsEndpoint
from rfc8823.endpoints import parse_host_port
from rfc8823.faults import NO_FAULTS, FaultSet
from rfc8823.smime_br import MAX_VALIDITY, br_profile
from rfc8823.tokens import b64url_decode
from rfc8823.world.imap import ImapTls

if TYPE_CHECKING:
    from rfc8823.messages.challenge import ChallengeEmail

DEFAULT_CHALLENGE_FROM = "acme-challenge@ca.test"
HOUR = 3600.0
DAY = 24 * HOUR

SmimeHeaderProtection = Literal["rfc8551", "rfc7508"]
"""How an S/MIME-signed challenge protects its header (CHAL-BODY-3, AMB-8)."""
MailAt = Literal["authz", "post"]
"""When the challenge email goes out: at the first authorization fetch, or at the POST (AMB-3)."""
ChallengeVariant: TypeAlias = "Callable[[ChallengeEmail], ChallengeEmail]"
"""A change to the signed challenge builder just before it is built (a test CA's variations)."""
SmtpTls = Literal["none", "starttls", "implicit"]
"""How the CA talks to its smarthost: plain, STARTTLS (RFC 3207) or implicit TLS (RFC 8314)."""
_TLS_MODES = ("none", "starttls", "implicit")


@dataclass(frozen=True)
class ServerConfig:
    """Everything the reference CA needs to know; defaults suit the embedded test world.

    ``token_part1_octets`` defaults to 24, a multiple of 3, so the string and octet
    concatenation readings agree (docs/decisions.md#decision-2, AMB-1); both parts carry at least
    128 bits (TOK-1, TOK-3). Order and authorization lifetimes default to 24 h, the S/MIME BR cap on
    random values (SRV-VAL-4). ``challenge_mails_per_window`` limits challenge emails per address
    (SEC-8). ``reply_wait_after_post`` (seconds), when set, makes a POSTed challenge invalid if
    no authentic reply arrives in time; None waits until the authorization expires.

    Behaviours a test CA varies (docs/decisions.md#decision-4, AMB-2, AMB-3): ``mail_at`` sends the
    challenge email at the authorization fetch or only at the challenge POST; ``token_part1_padded``
    writes token-part1 with its ``=`` padding (and accepts the string reading of that form);
    ``retry_after`` is the ``Retry-After`` (seconds, 0 for none) on processing challenges,
    orders and the authorizations waiting on them; ``challenge_variant`` rewrites the signed
    challenge builder before it is built. For the client suite's peer role: ``reject_nonces``
    answers the first N signed requests ``badNonce`` (A-NONCE-2), ``decoy_challenge_types``
    lists challenges of other types before email-reply-00 (FLOW-2), ``record_requests``
    keeps a log of every request, and ``authorization_gate``, when given, holds the answer to an
    authorization fetch that sends a challenge email until the event is set (at most
    ``send_timeout``): the peer's way to have the email in the mailbox before the client knows
    of its challenge (FLOW-8).

    Compatibility modes of deployed CAs, for the client suite's peer CA:
    ``accept_dns_address_identifiers`` takes a ``dns`` identifier holding an address, and a
    dNSName repeating it in the CSR, as the ``email`` identifier they mean (AMB-4);
    ``sign_challenges`` False sends challenge emails with neither DKIM nor S/MIME signature.

    ``smime_sign`` S/MIME-signs challenge emails (DKIM stays on top); ``smime_header_protection``
    chooses how the signature protects From, To, Subject and the other fields (CHAL-BODY-3,
    AMB-8): "rfc8551" wraps the message as message/rfc822 (RFC 8551 §3.1, the default),
    "rfc7508" lists them in a SecureHeaderFields signed attribute (RFC 7508).

    ``br_profile`` is the S/MIME BR mailbox-validated generation the certificates follow
    ("strict", "multipurpose" or "legacy"; reserved policy OID, validity cap; the BR no longer
    allow issuing legacy certificates, which the BR lints report). The CRL and the
    issuing CA's certificate are served over plain HTTP on ``pki_host``:``pki_port`` (0:
    ephemeral), the URLs the certificates name (RFC 5280 §4.2.1.13, §4.2.2.1).

    Mail architecture: replies arrive on the CA's own SMTP listener (``reply_host``,
    ``reply_port``) unless ``reply_imap`` names an IMAP server, whose INBOX the CA then reads
    every ``reply_poll_interval`` seconds with ``reply_imap_user``/``reply_imap_password``
    (``reply_imap_tls``: none, starttls or implicit). Challenge emails go to the recipient's MX
    unless ``smarthost`` is set; ``smarthost_tls`` and ``smarthost_user``/``smarthost_password``
    (AUTH, RFC 4954, only over TLS) say how the CA talks to it. TLS peers are checked against
    the test PKI.

    ``faults`` names the deliberate violations switched on (self-validation; none by
    default): see :mod:`rfc8823.faults.server`.
    """

    http_host: str = "127.0.0.1"
    http_port: int = 0
    db_path: Path | None = None
    challenge_from: str = DEFAULT_CHALLENGE_FROM
    dkim_domain: str | None = None
    dkim_selector: str = "rsa"
    dkim_key_path: Path | None = None
    smime_sign: bool = False
    smime_header_protection: SmimeHeaderProtection = "rfc8551"
    resolver: DnsEndpoint | None = None
    mx_port: int = 25
    smarthost: tuple[str, int] | None = None
    smarthost_tls: SmtpTls = "none"
    smarthost_user: str | None = None
    smarthost_password: str | None = None
    source_address: str | None = None
    reply_host: str = "127.0.0.1"
    reply_port: int = 0
    reply_max_size: int = 16 * 1024 * 1024
    reply_imap: tuple[str, int] | None = None
    reply_imap_user: str | None = None
    reply_imap_password: str | None = None
    reply_imap_tls: ImapTls = "none"
    reply_poll_interval: float = 0.2
    token_part1_octets: int = 24
    token_part2_octets: int = 16
    order_lifetime: float = DAY
    authz_lifetime: float = DAY
    certificate_lifetime: float = 90 * DAY
    br_profile: str = "strict"
    pki_host: str = "127.0.0.1"
    pki_port: int = 0
    eab_keys: Mapping[str, bytes] = field(default_factory=dict)
    eab_required: bool = False
    challenge_mails_per_window: int = 10
    rate_window: float = HOUR
    reply_wait_after_post: float | None = None
    max_body: int = 64 * 1024
    send_timeout: float = 10.0
    terms_of_service: str | None = None
    website: str | None = None
    mail_at: MailAt = "authz"
    token_part1_padded: bool = False
    retry_after: int = 1
    challenge_variant: ChallengeVariant | None = None
    reject_nonces: int = 0
    decoy_challenge_types: tuple[str, ...] = ()
    record_requests: bool = False
    authorization_gate: threading.Event | None = None
    accept_dns_address_identifiers: bool = False
    sign_challenges: bool = True
    faults: FaultSet = NO_FAULTS

    def __post_init__(self) -> None:
        self._check_tokens()
        if self.smime_header_protection not in ("rfc8551", "rfc7508"):
            raise ValueError(
                f"smime_header_protection must be 'rfc8551' or 'rfc7508', "
                f"not {self.smime_header_protection!r}"
            )
        if self.mail_at not in ("authz", "post"):
            raise ValueError(f"mail_at must be 'authz' or 'post', not {self.mail_at!r}")
        if self.retry_after < 0 or self.reject_nonces < 0:
            raise ValueError("retry_after and reject_nonces cannot be negative")
        if "email-reply-00" in self.decoy_challenge_types:
            raise ValueError("a decoy challenge type cannot be email-reply-00")
        if self.challenge_variant is not None and not callable(self.challenge_variant):
            raise ValueError("challenge_variant is a function of the challenge builder")
        if self.smime_sign and not self.sign_challenges:
            raise ValueError("smime_sign contradicts sign_challenges = false")
        if "@" not in self.challenge_from:
            raise ValueError(f"challenge_from {self.challenge_from!r} is not an address")
        if self.eab_required and not self.eab_keys:
            raise ValueError("eab_required needs at least one EAB key")
        self._check_lifetimes()
        self._check_mail_wiring()

    def _check_tokens(self) -> None:
        """Refuse token lengths below 128 bits, and padding where there is none to write."""
        if self.token_part1_octets < 16 or self.token_part2_octets < 16:
            raise ValueError("token parts need at least 16 octets (128 bits; TOK-1, TOK-3)")
        if self.token_part1_padded and self.token_part1_octets % 3 == 0:
            raise ValueError(
                f"token-part1 of {self.token_part1_octets} octets has no '=' padding to write"
            )

    def _check_lifetimes(self) -> None:
        """Refuse lifetimes that are not positive, or longer than the BR profile allows."""
        if min(self.order_lifetime, self.authz_lifetime, self.certificate_lifetime) <= 0:
            raise ValueError("lifetimes must be positive")
        longest = MAX_VALIDITY[br_profile(self.br_profile)]
        if self.certificate_lifetime > longest.total_seconds():
            raise ValueError(
                f"certificate_lifetime exceeds the {longest.days} days the {self.br_profile} "
                "S/MIME BR profile allows"
            )

    def _check_mail_wiring(self) -> None:
        """Refuse a smarthost or IMAP mailbox setting that could not work as asked."""
        if self.smarthost_tls not in _TLS_MODES or self.reply_imap_tls not in _TLS_MODES:
            raise ValueError(f"smarthost_tls and reply_imap_tls are one of {_TLS_MODES}")
        if (self.smarthost_user is None) != (self.smarthost_password is None):
            raise ValueError("smarthost AUTH needs both smarthost_user and smarthost_password")
        if self.smarthost_user is not None and (
            self.smarthost is None or self.smarthost_tls == "none"
        ):
            raise ValueError("smarthost AUTH needs a smarthost and smarthost_tls (never plain)")
        if self.reply_imap is not None and not (self.reply_imap_user and self.reply_imap_password):
            raise ValueError("reply_imap needs reply_imap_user and reply_imap_password")
        if self.reply_poll_interval <= 0:
            raise ValueError("reply_poll_interval must be positive")

    @property
    def challenge_domain(self) -> str:
        """The domain of ``challenge_from``: where replies go (its MX is the reply listener)."""
        return self.challenge_from.rpartition("@")[2].lower()

    @property
    def signing_domain(self) -> str:
        """The DKIM ``d=`` of challenge emails: the From domain unless set (CHAL-DKIM-3)."""
        return (self.dkim_domain or self.challenge_domain).lower()

    def with_overrides(self, **changes: Any) -> ServerConfig:
        """A copy with the given fields replaced; None values leave a field as it is."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_toml(cls, path: Path) -> ServerConfig:
        """Read a TOML file; relative paths in it are taken relative to the file.

        Sections and keys: ``[http] host, port``; ``[store] db_path``; ``[mail] from,
        dkim_domain, dkim_selector, dkim_key, smime_sign, smime_header_protection ("rfc8551" or
        "rfc7508"), resolver ("host:port"), mx_port, smarthost ("host:port"), smarthost_tls,
        smarthost_user, smarthost_password, source_address, reply_host, reply_port,
        reply_max_size, reply_imap ("host:port"), reply_imap_user, reply_imap_password,
        reply_imap_tls, reply_poll_interval, reply_wait_after_post, mail_at,
        sign_challenges``; ``[compat] dns_address_identifiers``; ``[tokens] part1_octets,
        part2_octets, part1_padded``;
        ``[lifetimes] order_hours, authz_hours, certificate_days``; ``[certificates] br_profile,
        pki_host, pki_port``; ``[eab] required`` and
        ``[eab.keys]`` (key identifier = base64url HMAC key); ``[limits]
        challenge_mails_per_window, rate_window_seconds, max_body, retry_after``;
        ``[directory] terms_of_service, website``.
        """
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(**_fields_from_toml(data, path.parent))


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"[{name}] must be a table")
    return value


_KEYS: Mapping[str, Mapping[str, str]] = {
    "http": {"host": "http_host", "port": "http_port"},
    "store": {"db_path": "db_path"},
    "mail": {
        "from": "challenge_from",
        "dkim_domain": "dkim_domain",
        "dkim_selector": "dkim_selector",
        "dkim_key": "dkim_key_path",
        "smime_sign": "smime_sign",
        "smime_header_protection": "smime_header_protection",
        "resolver": "resolver",
        "mx_port": "mx_port",
        "smarthost": "smarthost",
        "smarthost_tls": "smarthost_tls",
        "smarthost_user": "smarthost_user",
        "smarthost_password": "smarthost_password",
        "source_address": "source_address",
        "reply_host": "reply_host",
        "reply_port": "reply_port",
        "reply_max_size": "reply_max_size",
        "reply_imap": "reply_imap",
        "reply_imap_user": "reply_imap_user",
        "reply_imap_password": "reply_imap_password",
        "reply_imap_tls": "reply_imap_tls",
        "reply_poll_interval": "reply_poll_interval",
        "reply_wait_after_post": "reply_wait_after_post",
        "mail_at": "mail_at",
        "sign_challenges": "sign_challenges",
    },
    "compat": {"dns_address_identifiers": "accept_dns_address_identifiers"},
    "tokens": {
        "part1_octets": "token_part1_octets",
        "part2_octets": "token_part2_octets",
        "part1_padded": "token_part1_padded",
    },
    "lifetimes": {
        "order_hours": "order_lifetime",
        "authz_hours": "authz_lifetime",
        "certificate_days": "certificate_lifetime",
    },
    "certificates": {"br_profile": "br_profile", "pki_host": "pki_host", "pki_port": "pki_port"},
    "eab": {"required": "eab_required", "keys": "eab_keys"},
    "limits": {
        "challenge_mails_per_window": "challenge_mails_per_window",
        "rate_window_seconds": "rate_window",
        "max_body": "max_body",
        "retry_after": "retry_after",
    },
    "directory": {"terms_of_service": "terms_of_service", "website": "website"},
}
_SCALE = {"order_hours": HOUR, "authz_hours": HOUR, "certificate_days": DAY}


def _fields_from_toml(data: Mapping[str, Any], base: Path) -> dict[str, Any]:
    unknown = set(data) - set(_KEYS)
    if unknown:
        raise ValueError(f"unknown config sections {sorted(unknown)}; known: {sorted(_KEYS)}")
    fields: dict[str, Any] = {}
    for section, keys in _KEYS.items():
        table = _section(data, section)
        stray = set(table) - set(keys)
        if stray:
            raise ValueError(f"unknown keys {sorted(stray)} in [{section}]")
        for key, name in keys.items():
            if key in table:
                fields[name] = _convert(key, table[key], base)
    return fields


def _convert(key: str, value: Any, base: Path) -> Any:
    if key in ("db_path", "dkim_key"):
        return base / Path(str(value))
    if key == "resolver":
        return DnsEndpoint(*parse_host_port(str(value), "127.0.0.1"))
    if key in ("smarthost", "reply_imap"):
        return parse_host_port(str(value), "127.0.0.1")
    if key in _SCALE:
        return float(value) * _SCALE[key]
    if key == "keys":
        if not isinstance(value, Mapping):
            raise ValueError("[eab.keys] must map key identifiers to base64url HMAC keys")
        return {str(kid): b64url_decode(str(secret)) for kid, secret in value.items()}
    return value
