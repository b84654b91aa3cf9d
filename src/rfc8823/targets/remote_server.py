"""The ``remote`` target: a CA already running elsewhere, described by TOML and/or options.

The operator points the CA at the suite's world (its DNS for MX/DKIM/SPF lookups, its MX for
challenge emails; the suite prints both when it starts) and tells the suite where the CA
listens. A TOML description, with paths relative to the file::

    [target]
    name = "my-ca"
    version = "1.4.2"

    [acme]
    directory = "https://127.0.0.1:14000/directory"
    ca_bundle = "ca.pem"                 # PEM the HTTPS certificate chains to
    from = "acme-challenge@ca.example"   # the challenge object's "from"
    reply_smtp = "127.0.0.1:2525"        # where mail for the from domain is delivered
    wait_seconds = 30                    # how long to wait for the directory to answer
    smime_trust_anchors = ["smime-root.pem"]
    eab_kid = "kid-1"                    # external account binding, if the CA needs it
    eab_hmac_key = "<base64url>"

    [dkim]                               # DKIM keys the CA signs its challenges with
    sel1 = "v=DKIM1; k=rsa; p=..."

    [capabilities]                       # ServerCapabilities fields
    eai = true
    smime_challenges = false

Command-line values override the file (see :func:`settings_from_options`).
"""

from __future__ import annotations

import ssl
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from rfc8823.endpoints import parse_host_port
from rfc8823.targets.server import (
    DkimRecord,
    EabCredentials,
    ServerCapabilities,
    ServerEndpoints,
    wire_from_domain,
)
from rfc8823.tokens import b64url_decode
from rfc8823.world.world import World

_POLL_INTERVAL = 0.25
_SECTIONS = {"target", "acme", "dkim", "capabilities"}
_ACME_CONVERSIONS: Mapping[str, tuple[str, Callable[[Any, Path], object]]] = {
    "directory": ("directory", lambda value, _: str(value)),
    "from": ("challenge_from", lambda value, _: str(value)),
    "reply_smtp": ("reply_smtp", lambda value, _: parse_host_port(str(value))),
    "ca_bundle": ("ca_bundle", lambda value, base: base / str(value)),
    "wait_seconds": ("wait_seconds", lambda value, _: float(value)),
}
"""Plain ``[acme]`` keys: the ``RemoteSettings`` argument each gives, and how it is read."""
_ACME_KEYS = {
    "directory",
    "ca_bundle",
    "from",
    "reply_smtp",
    "wait_seconds",
    "smime_trust_anchors",
    "eab_kid",
    "eab_hmac_key",
}



def parse_assignment(text: str, what: str) -> tuple[str, str]:
    """``name=value`` as a pair (value may contain '='); ValueError naming ``what`` otherwise."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise ValueError(f"{what} must be name=value, got {text!r}")
    return name.strip(), value.strip()


def parse_capability(text: str) -> tuple[str, bool | int]:
    """``name`` (true), ``no-name`` / ``name=false`` (false), or ``name=<int>``."""
    if "=" not in text:
        name = text.strip()
        if name.startswith("no-"):
            return name[3:].replace("-", "_"), False
        return name.replace("-", "_"), True
    name, value = parse_assignment(text, "a capability")
    name = name.replace("-", "_")
    lowered = value.lower()
    if lowered in ("true", "yes", "1", "on"):
        return name, True
    if lowered in ("false", "no", "0", "off"):
        return name, False
    if value.isdigit():
        return name, int(value)
    raise ValueError(f"capability {name}: {value!r} is neither a boolean nor an integer")


@dataclass(frozen=True)
class RemoteSettings:
    """Everything the suite needs to know about a running CA."""

    directory: str
    challenge_from: str
    reply_smtp: tuple[str, int]
    name: str = "remote"
    version: str = ""
    ca_bundle: Path | None = None
    wait_seconds: float = 0.0
    dkim_records: tuple[DkimRecord, ...] = ()
    smime_trust_anchors: tuple[Path, ...] = ()
    eab: EabCredentials | None = None
    capabilities: ServerCapabilities = field(
        default_factory=lambda: ServerCapabilities(serial_only=True)
    )

    def __post_init__(self) -> None:
        if not self.directory.startswith(("https://", "http://")):
            raise ValueError(f"the ACME directory {self.directory!r} is not an http(s) URL")
        local, at, domain = self.challenge_from.rpartition("@")
        if not at or not local or not domain:
            raise ValueError(f"the challenge from {self.challenge_from!r} is not an address")
        if self.wait_seconds < 0:
            raise ValueError("wait_seconds cannot be negative")


def load_toml(path: Path) -> dict[str, Any]:
    """Read a remote-target TOML file into ``RemoteSettings`` keyword arguments.

    Paths are made absolute relative to the file; unknown sections or keys raise ValueError.
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - _SECTIONS
    if unknown:
        raise ValueError(f"{path}: unknown sections {sorted(unknown)}; known: {sorted(_SECTIONS)}")
    base = path.parent
    values: dict[str, Any] = {}
    target = _table(data, "target", path)
    for key in ("name", "version"):
        if key in target:
            values[key] = str(target[key])
    values.update(_acme_values(_table(data, "acme", path), base, path))
    dkim = _table(data, "dkim", path)
    values["dkim_records"] = tuple(DkimRecord(str(s), str(txt)) for s, txt in dkim.items())
    capabilities = dict(_table(data, "capabilities", path))
    capabilities.setdefault("serial_only", True)
    values["capabilities"] = ServerCapabilities.from_mapping(capabilities)
    return values


def _acme_values(acme: Mapping[str, Any], base: Path, path: Path) -> dict[str, Any]:
    """``RemoteSettings`` keyword arguments from the ``[acme]`` table."""
    stray = set(acme) - _ACME_KEYS
    if stray:
        raise ValueError(f"{path}: unknown keys {sorted(stray)} in [acme]")
    values = {
        argument: convert(acme[key], base)
        for key, (argument, convert) in _ACME_CONVERSIONS.items()
        if key in acme
    }
    anchors = acme.get("smime_trust_anchors", [])
    if not isinstance(anchors, list):
        raise ValueError(f"{path}: [acme] smime_trust_anchors must be a list of paths")
    values["smime_trust_anchors"] = tuple(base / str(anchor) for anchor in anchors)
    if ("eab_kid" in acme) != ("eab_hmac_key" in acme):
        raise ValueError(f"{path}: [acme] needs both eab_kid and eab_hmac_key, or neither")
    if "eab_kid" in acme:
        values["eab"] = EabCredentials(
            str(acme["eab_kid"]), b64url_decode(str(acme["eab_hmac_key"]))
        )
    return values


def _table(data: Mapping[str, Any], name: str, path: Path) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"{path}: [{name}] must be a table")
    return value


def settings_from_options(
    *,
    config_file: Path | None = None,
    directory: str | None = None,
    ca_bundle: Path | None = None,
    challenge_from: str | None = None,
    reply_smtp: str | None = None,
    dkim_records: Sequence[str] = (),
    smime_trust_anchors: Sequence[Path] = (),
    eab: str | None = None,
    capabilities: Sequence[str] = (),
    wait_seconds: float | None = None,
    name: str | None = None,
    version: str | None = None,
) -> RemoteSettings:
    """Settings from an optional TOML file, then the command-line values given.

    ``dkim_records`` are ``selector=TXT``, ``eab`` is ``kid=base64url-key``, ``capabilities``
    are ``name``, ``no-name`` or ``name=value``; repeated options add to the file's lists.
    ValueError says what is missing or malformed.
    """
    values = load_toml(config_file) if config_file is not None else {}
    scalar: dict[str, Any] = {
        "directory": directory,
        "ca_bundle": ca_bundle,
        "challenge_from": challenge_from,
        "reply_smtp": parse_host_port(reply_smtp) if reply_smtp else None,
        "wait_seconds": wait_seconds,
        "name": name,
        "version": version,
    }
    values.update({key: value for key, value in scalar.items() if value is not None})
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
    missing = [
        option
        for key, option in (
            ("directory", "--acme-directory / [acme] directory"),
            ("challenge_from", "--acme-from / [acme] from"),
            ("reply_smtp", "--acme-reply-smtp / [acme] reply_smtp"),
        )
        if key not in values
    ]
    if missing:
        raise ValueError(f"the remote target needs {', '.join(missing)}")
    return RemoteSettings(**values)


@dataclass
class RemoteTarget:
    """A CA reached over the network; ``start`` waits for its directory, then wires the world."""

    settings: RemoteSettings
    _world: World | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        """The configured name (default ``remote``)."""
        return self.settings.name

    @property
    def version(self) -> str:
        """The configured version."""
        return self.settings.version

    @property
    def capabilities(self) -> ServerCapabilities:
        """The declared capabilities (``serial_only`` unless the description says otherwise)."""
        return self.settings.capabilities

    def ssl_context(self) -> ssl.SSLContext:
        """TLS trust for the CA: its CA bundle, else the system's store."""
        bundle = self.settings.ca_bundle
        return ssl.create_default_context(cafile=str(bundle) if bundle is not None else None)

    def wait_for_directory(self) -> None:
        """GET the directory until it answers 200, for at most ``wait_seconds``.

        Polling is the only signal an outside process gives that it is up.
        """
        deadline = time.monotonic() + self.settings.wait_seconds
        last = "no attempt"
        with httpx.Client(verify=self.ssl_context(), timeout=5.0) as http:
            while True:
                try:
                    response = http.get(self.settings.directory)
                except httpx.HTTPError as error:
                    last = f"{type(error).__name__}: {error}"
                else:
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}"
                if time.monotonic() >= deadline:
                    raise ConnectionError(
                        f"the ACME directory {self.settings.directory} did not answer "
                        f"within {self.settings.wait_seconds} s ({last})"
                    )
                time.sleep(_POLL_INTERVAL)

    def start(self, world: World) -> ServerEndpoints:
        """Wait for the CA, route its ``from`` domain to its SMTP and publish its DKIM keys."""
        self.wait_for_directory()
        settings = self.settings
        wire_from_domain(world, settings.challenge_from, settings.reply_smtp, settings.dkim_records)
        self._world = world
        return ServerEndpoints(
            directory_url=settings.directory,
            challenge_from=settings.challenge_from,
            reply_smtp=settings.reply_smtp,
            ca_bundle=settings.ca_bundle,
            smime_trust_anchors=settings.smime_trust_anchors or (world.pki.trust_anchor_path,),
            eab=settings.eab,
        )

    def stop(self) -> None:
        """Give a routed world domain back to the world's mailboxes (the CA keeps running)."""
        world, self._world = self._world, None
        domain = self.settings.challenge_from.rpartition("@")[2].lower()
        if world is not None and domain in world.domains:
            world.unroute(domain)

    def advance_clock(self, seconds: float) -> None:
        """A running CA's clock is its own: it does not declare ``time_travel``."""
        raise NotImplementedError(f"{self.name} keeps its own clock (no time_travel capability)")
