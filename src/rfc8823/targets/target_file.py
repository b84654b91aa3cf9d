"""A CA under test described in one TOML file: ACME, account, mail wiring, world, waits, features.

Every setting of a run against a CA lives in one file (``--target-config FILE``), with paths
relative to the file; command-line options override it (:func:`settings_from_options`), and
``rfc8823 target check FILE`` validates it and says what it understood (:func:`describe`)::

    [target]
    kind = "remote"                      # a running CA; or "acme2certifier" (the suite runs it)
    name = "my-ca"
    version = "1.4.2"

    [acme]
    directory = "https://127.0.0.1:14000/directory"
    ca_bundle = "ca.pem"                 # PEM the HTTPS certificate chains to
    from = "acme-challenge@ca.example"   # the challenge object's "from"
    wait_seconds = 30                    # how long to wait for the directory to answer
    smime_trust_anchors = ["smime-root.pem"]

    [account]                            # what every newAccount carries (RFC 8555 §7.3)
    contact = ["mailto:admin@example.test"]  # default: a mailto: of a fresh world address
    agree_terms = true                   # termsOfServiceAgreed (default true)
    eab_kid = "kid-1"                    # external account binding, if the CA needs it
    eab_hmac_key = "<base64url>"

    [mail]                               # see rfc8823.targets.ca_mail
    replies = "smtp"                     # "smtp" (to reply_smtp) or "imap" (a mailbox)
    reply_smtp = "127.0.0.1:2525"        # the CA's listener, or its MTA
    sending = "mx"                       # "mx" (MX lookups) or "smarthost" (AUTH)
    smarthost_tls = "starttls"           # or "implicit"
    login = "acme-challenge@ca.example"  # IMAP and smarthost login (default: from)
    password = "..."                     # default: generated, printed in the header

    [dkim]                               # DKIM keys the CA signs its challenges with
    sel1 = "v=DKIM1; k=rsa; p=..."

    [world]                              # the suite's listening ports (0: chosen at start)
    dns_port = 5353
    mx_port = 2525
    submission_port = 2587
    submissions_port = 2465
    imap_port = 2143

    [timeouts]                           # bounds on waits, seconds (default 10)
    mail = 10
    state = 10
    http = 10

    [capabilities]                       # ServerCapabilities fields (``capability_table``)
    eai = true

A kind other than ``remote`` reads a table of its own name (e.g. ``[acme2certifier]``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

from rfc8823.endpoints import parse_host_port
from rfc8823.targets.ca_mail import CaMail, MailWiring
from rfc8823.targets.server import (
    DkimRecord,
    EabCredentials,
    ServerCapabilities,
    capability_table,
)
from rfc8823.tokens import b64url_decode
from rfc8823.world.world import WorldPorts

__all__ = [
    "TARGET_KINDS",
    "TargetKind",
    "TargetSettings",
    "WaitBounds",
    "ca_mail",
    "describe",
    "load_target_file",
    "parse_assignment",
    "parse_capability",
    "settings_from_options",
]

TargetKind = Literal["remote", "acme2certifier"]
TARGET_KINDS: tuple[TargetKind, ...] = get_args(TargetKind)
DEFAULT_WAIT = 10.0

_KEYS: Mapping[str, frozenset[str] | None] = {
    "target": frozenset({"kind", "name", "version"}),
    "acme": frozenset({"directory", "ca_bundle", "from", "wait_seconds", "smime_trust_anchors"}),
    "account": frozenset({"contact", "agree_terms", "eab_kid", "eab_hmac_key"}),
    "mail": frozenset({"replies", "reply_smtp", "sending", "smarthost_tls", "login", "password"}),
    "dkim": None,
    "world": frozenset({"dns_port", "mx_port", "submission_port", "submissions_port", "imap_port"}),
    "timeouts": frozenset({"mail", "state", "http"}),
    "capabilities": None,
}
"""Sections and their keys (None: any key, checked by what reads the section)."""
_PORTS = ("dns", "mx", "submission", "submissions")
_MAIL_DEFAULTS: Mapping[str, Mapping[str, str]] = {
    "remote": {"replies": "smtp"},
    "acme2certifier": {"replies": "imap", "sending": "smarthost"},
}
"""How each kind's mail is wired unless its file says otherwise."""


@dataclass(frozen=True)
class WaitBounds:
    """Seconds the suite waits at most for mail, for a state change, for an HTTP answer."""

    mail: float = DEFAULT_WAIT
    state: float = DEFAULT_WAIT
    http: float = DEFAULT_WAIT

    def __post_init__(self) -> None:
        for item in fields(self):
            if not getattr(self, item.name) > 0:
                raise ValueError(f"timeout {item.name} must be positive")


@dataclass(frozen=True)
class TargetSettings:
    """Everything the suite knows about a CA under test, from its file and the options.

    ``directory`` and ``challenge_from`` are required for a running CA (``remote``); a kind
    the suite runs itself makes its own. ``contact`` None means the suite's default (a world
    address); ``()`` sends none. ``kind_options`` is the kind's own table, read by its target.
    """

    kind: TargetKind = "remote"
    name: str = ""
    version: str = ""
    directory: str | None = None
    challenge_from: str | None = None
    ca_bundle: Path | None = None
    wait_seconds: float = 0.0
    dkim_records: tuple[DkimRecord, ...] = ()
    smime_trust_anchors: tuple[Path, ...] = ()
    mail: MailWiring = field(default_factory=lambda: MailWiring(replies="imap"))
    """The mail architecture (the default, IMAP replies and MX lookups, needs no endpoint)."""
    contact: tuple[str, ...] | None = None
    agree_terms: bool = True
    eab: EabCredentials | None = None
    world_ports: WorldPorts = field(default_factory=WorldPorts)
    timeouts: WaitBounds = field(default_factory=WaitBounds)
    capabilities: ServerCapabilities = field(
        default_factory=lambda: ServerCapabilities(serial_only=True)
    )
    kind_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ValueError(f"target kind must be one of {TARGET_KINDS}, not {self.kind!r}")
        if self.directory is not None and not self.directory.startswith(("https://", "http://")):
            raise ValueError(f"the ACME directory {self.directory!r} is not an http(s) URL")
        if self.challenge_from is not None:
            local, at, domain = self.challenge_from.rpartition("@")
            if not at or not local or not domain:
                raise ValueError(f"the challenge from {self.challenge_from!r} is not an address")
        if self.wait_seconds < 0:
            raise ValueError("wait_seconds cannot be negative")
        for contact in self.contact or ():
            if not contact.startswith("mailto:"):
                raise ValueError(f"an account contact is a mailto: URL, not {contact!r}")

    @property
    def display_name(self) -> str:
        """The name reports show: the configured one, else the kind."""
        return self.name or self.kind


def parse_assignment(text: str, what: str) -> tuple[str, str]:
    """``name=value`` as a pair (value may contain '='); ValueError naming ``what`` otherwise."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise ValueError(f"{what} must be name=value, got {text!r}")
    return name.strip(), value.strip()


_TEXT_CAPABILITIES = frozenset({"smime_br_profile"})


def parse_capability(text: str) -> tuple[str, bool | int | str]:
    """``name`` (true), ``no-name`` / ``name=false`` (false), ``name=<int>``, or a text value
    for a capability that takes one (``smime-br-profile=mailbox-strict``)."""
    if "=" not in text:
        name = text.strip()
        if name.startswith("no-"):
            return name[3:].replace("-", "_"), False
        return name.replace("-", "_"), True
    name, value = parse_assignment(text, "a capability")
    name = name.replace("-", "_")
    if name in _TEXT_CAPABILITIES:
        return name, value
    lowered = value.lower()
    if lowered in ("true", "yes", "1", "on"):
        return name, True
    if lowered in ("false", "no", "0", "off"):
        return name, False
    if value.isdigit():
        return name, int(value)
    raise ValueError(f"capability {name}: {value!r} is neither a boolean nor an integer")


def load_target_file(path: Path) -> dict[str, Any]:
    """Read a target TOML file into :class:`TargetSettings` keyword arguments.

    ``mail`` comes back as MailWiring keyword arguments (checked once options are merged);
    paths are made absolute relative to the file; unknown sections or keys raise ValueError.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not TOML: {error}") from error
    kind = str(_table(data, "target", path).get("kind", "remote"))
    if kind not in TARGET_KINDS:
        raise ValueError(f"{path}: [target] kind must be one of {TARGET_KINDS}, not {kind!r}")
    known: dict[str, frozenset[str] | None] = dict(_KEYS)
    if kind != "remote":
        known[kind] = None
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f"{path}: unknown sections {sorted(unknown)}; known: {sorted(known)}")
    for section, keys in known.items():
        stray = set(_table(data, section, path)) - keys if keys is not None else set()
        if stray:
            raise ValueError(f"{path}: unknown keys {sorted(stray)} in [{section}]")
    try:
        return _values(data, path.parent, kind)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from error


def _values(data: Mapping[str, Any], base: Path, kind: str) -> dict[str, Any]:
    values: dict[str, Any] = {"kind": kind}
    target = _table(data, "target", base)
    for key in ("name", "version"):
        if key in target:
            values[key] = str(target[key])
    acme = _table(data, "acme", base)
    if "directory" in acme:
        values["directory"] = str(acme["directory"])
    if "from" in acme:
        values["challenge_from"] = str(acme["from"])
    if "ca_bundle" in acme:
        values["ca_bundle"] = base / str(acme["ca_bundle"])
    if "wait_seconds" in acme:
        values["wait_seconds"] = float(acme["wait_seconds"])
    anchors = acme.get("smime_trust_anchors", [])
    if not isinstance(anchors, list):
        raise ValueError("[acme] smime_trust_anchors must be a list of paths")
    values["smime_trust_anchors"] = tuple(base / str(anchor) for anchor in anchors)
    values.update(_account(_table(data, "account", base)))
    values["mail"] = _mail(_table(data, "mail", base))
    dkim = _table(data, "dkim", base)
    values["dkim_records"] = tuple(DkimRecord(str(s), str(txt)) for s, txt in dkim.items())
    world = _table(data, "world", base)
    values["world_ports"] = WorldPorts(**{p: _port(world, f"{p}_port") for p in _PORTS})
    if "imap_port" in world:
        values["mail"]["imap_port"] = _port(world, "imap_port")
    timeouts = _table(data, "timeouts", base)
    values["timeouts"] = WaitBounds(**{key: float(value) for key, value in timeouts.items()})
    capabilities = dict(_table(data, "capabilities", base))
    capabilities.setdefault("serial_only", True)
    values["capabilities"] = ServerCapabilities.from_mapping(capabilities)
    if kind != "remote":
        values["kind_options"] = dict(_table(data, kind, base))
    return values


def _account(account: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "contact" in account:
        contact = account["contact"]
        contacts = [contact] if isinstance(contact, str) else contact
        if not isinstance(contacts, list) or not all(isinstance(c, str) for c in contacts):
            raise ValueError("[account] contact must be a mailto: URL or a list of them")
        values["contact"] = tuple(contacts)
    if "agree_terms" in account:
        if not isinstance(account["agree_terms"], bool):
            raise ValueError("[account] agree_terms must be true or false")
        values["agree_terms"] = account["agree_terms"]
    if ("eab_kid" in account) != ("eab_hmac_key" in account):
        raise ValueError("[account] needs both eab_kid and eab_hmac_key, or neither")
    if "eab_kid" in account:
        values["eab"] = EabCredentials(
            str(account["eab_kid"]), b64url_decode(str(account["eab_hmac_key"]))
        )
    return values


def _mail(mail: Mapping[str, Any]) -> dict[str, Any]:
    values = {key: str(value) for key, value in mail.items()}
    if "reply_smtp" in values:
        return {**values, "reply_smtp": parse_host_port(values["reply_smtp"])}
    return dict(values)


def _port(table: Mapping[str, Any], key: str) -> int:
    value = table.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ValueError(f"[world] {key} must be a port number (0: chosen at start)")
    return value


def _table(data: Mapping[str, Any], name: str, where: Path) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: [{name}] must be a table")
    return value


def settings_from_options(
    *,
    config_file: Path | None = None,
    kind: str | None = None,
    directory: str | None = None,
    ca_bundle: Path | None = None,
    challenge_from: str | None = None,
    reply_smtp: str | None = None,
    dkim_records: Sequence[str] = (),
    smime_trust_anchors: Sequence[Path] = (),
    eab: str | None = None,
    capabilities: Sequence[str] = (),
    wait_seconds: float | None = None,
    world_ports: WorldPorts | None = None,
    timeout: float | None = None,
    name: str | None = None,
    version: str | None = None,
) -> TargetSettings:
    """Settings from an optional TOML file, then the command-line values given.

    ``dkim_records`` are ``selector=TXT``, ``eab`` is ``kid=base64url-key``, ``capabilities``
    are ``name``, ``no-name`` or ``name=value``; repeated options add to the file's lists;
    ``timeout`` bounds every wait. ValueError says what is missing or malformed.
    """
    values = load_target_file(config_file) if config_file is not None else {}
    if kind is not None and kind != values.get("kind", kind):
        raise ValueError(f"the target file describes a {values['kind']} target, not {kind}")
    scalar: dict[str, Any] = {
        "kind": kind,
        "directory": directory,
        "ca_bundle": ca_bundle,
        "challenge_from": challenge_from,
        "wait_seconds": wait_seconds,
        "world_ports": world_ports,
        "name": name,
        "version": version,
    }
    values.update({key: value for key, value in scalar.items() if value is not None})
    chosen = values.setdefault("kind", "remote")
    defaults: Mapping[str, str] = _MAIL_DEFAULTS.get(chosen, {})
    mail: dict[str, Any] = {**defaults, **values.get("mail", {})}
    if reply_smtp:
        mail = {**mail, "replies": "smtp", "reply_smtp": parse_host_port(reply_smtp)}
    if chosen == "remote":
        missing = [
            option
            for key, option in (
                ("directory", "--acme-directory / [acme] directory"),
                ("challenge_from", "--acme-from / [acme] from"),
            )
            if key not in values
        ]
        if mail["replies"] == "smtp" and "reply_smtp" not in mail:
            missing.append("--acme-reply-smtp / [mail] reply_smtp")
        if missing:
            raise ValueError(f"the remote target needs {', '.join(missing)}")
    values["mail"] = MailWiring(**mail)
    records = [DkimRecord(*parse_assignment(text, "a DKIM record")) for text in dkim_records]
    values["dkim_records"] = (*values.get("dkim_records", ()), *records)
    values["smime_trust_anchors"] = (
        *values.get("smime_trust_anchors", ()),
        *(Path(anchor) for anchor in smime_trust_anchors),
    )
    if eab is not None:
        kid, key = parse_assignment(eab, "the EAB credentials")
        values["eab"] = EabCredentials(kid, b64url_decode(key))
    declared = values.get("capabilities", ServerCapabilities(serial_only=True))
    if capabilities:
        changes = dict(parse_capability(text) for text in capabilities)
        declared = ServerCapabilities.from_mapping({**declared.__dict__, **changes})
    values["capabilities"] = declared
    if timeout is not None:
        values["timeouts"] = WaitBounds(timeout, timeout, timeout)
    return TargetSettings(**values)


def describe(settings: TargetSettings) -> list[str]:
    """What the suite understood from a target description, one line per setting."""
    mail = settings.mail
    running = settings.kind == "remote"
    made = "made by the target" if not running else "missing"
    trust = "the system's trust store" if running else "the test PKI the target uses"
    lines = [
        f"target: {settings.display_name} {settings.version}".rstrip() + f" (kind {settings.kind})",
        f"ACME directory: {settings.directory or made}",
        f"challenge from: {settings.challenge_from or made}",
        f"HTTPS trust: {settings.ca_bundle or trust}",
    ]
    if running:
        lines.append(f"wait for the directory: {settings.wait_seconds:g} s")
    if mail.replies == "smtp":
        assert mail.reply_smtp is not None
        host, port = mail.reply_smtp
        lines.append(f"replies: SMTP to {host}:{port} (the CA's listener or MTA)")
    else:
        imap_port = mail.imap_port or "chosen at start"
        lines.append(f"replies: filed into an IMAP mailbox the suite runs (port {imap_port})")
    if mail.sending == "mx":
        lines.append("challenge emails: MX lookup in the world's DNS, to the world's MX")
    else:
        lines.append(f"challenge emails: the world's smarthost, {mail.smarthost_tls}, AUTH")
    if mail.needs_login:
        password = "given in the file" if mail.password else "generated per run"
        lines.append(
            f"mail login: {mail.login or settings.challenge_from or 'the from address'}"
            f", password {password}"
        )
    contact = (
        "a fresh world address"
        if settings.contact is None
        else (", ".join(settings.contact) or "none")
    )
    lines += [
        f"account contact: {contact}",
        f"terms of service agreed: {'yes' if settings.agree_terms else 'no'}",
        f"external account binding: {settings.eab.kid if settings.eab else 'none'}",
        "DKIM records: " + (", ".join(r.selector for r in settings.dkim_records) or "none"),
        "S/MIME trust anchors: "
        + (", ".join(str(p) for p in settings.smime_trust_anchors) or "the world's test PKI"),
        "world ports: "
        + ", ".join(f"{p} {getattr(settings.world_ports, p) or 'chosen at start'}" for p in _PORTS),
        f"timeouts: mail {settings.timeouts.mail:g} s, state {settings.timeouts.state:g} s, "
        f"http {settings.timeouts.http:g} s",
        "capabilities (declared; default in brackets):",
    ]
    for name, default, meaning in capability_table():
        value = getattr(settings.capabilities, name)
        lines.append(f"  {name} = {_toml(value)} [{_toml(default)}]: {meaning}")
    for key, value in sorted(settings.kind_options.items()):
        lines.append(f"{settings.kind} {key}: {value}")
    return lines


def ca_mail(settings: TargetSettings, challenge_from: str) -> CaMail:
    """The CA's mail wiring as ``settings`` describe it, ready to start in a world."""
    return CaMail(
        settings.mail, challenge_from, settings.dkim_records, timeout=settings.timeouts.mail
    )


def _toml(value: object) -> str:
    if value is None:
        return "none"
    return str(value).lower() if isinstance(value, bool) else str(value)
