"""The ``acme2certifier`` target: the real third-party CA, installed and run by the suite.

acme2certifier (PyPI ``acme2certifier``) is a WSGI ACME server with RFC 8823 email
identifiers. The target installs it into a virtualenv of its own under the cache folder
(``$RFC8823_CACHE/targets/<package>/``; the first run takes about half a minute), writes its
configuration, and runs its WSGI application on loopback over HTTPS with a thread per
request (its shipped uwsgi setup runs several workers too). Its mail architecture is the one
its email handler has (``[mail]`` must say so):

- challenge emails go through one SMTP server with AUTH, STARTTLS or implicit TLS: the
  world's smarthost, with a login the suite makes;
- replies are read from an IMAP mailbox with the same login: Dovecot, run by the suite, fed
  by the suite's MX for the ``from`` domain.

Certificates come from its ``openssl_ca_handler`` with the test PKI's ACME issuing CA (a CA
made by the suite) and one extension profile: end entity, extendedKeyUsage emailProtection,
no keyUsage (unrestricted, so it fits EC and RSA keys alike; acme2certifier applies the same
profile to every certificate). A machine where it cannot be installed, or without Dovecot,
reports every test UNSUPPORTED with the reason.

The kind's own table, ``[acme2certifier]`` (every key optional)::

    package = "acme2certifier==0.46.3"   # what pip installs
    validation_timeout = 10              # its [Challenge] challenge_validation_timeout (s)
    validation_pause = 1                 # its pause between mailbox look-ups (s)
    terms_of_service = "https://..."     # its [Directory] tos_url ("": none)
    email_identifier_rewrite = false     # also take dns identifiers holding an address
    start_timeout = 60                   # how long to wait for its directory (s)
    install_timeout = 600                # how long pip may take (s)

    [acme2certifier.cfg.Account]         # any further setting of its acme_srv.cfg
    contact_check_disable = "True"

Its log of the last run is kept at ``$RFC8823_CACHE/targets/<package>/last-run.log``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives import serialization

from rfc8823.targets import wsgi_https
from rfc8823.targets.dovecot import dovecot_binary
from rfc8823.targets.remote_server import wait_for_directory
from rfc8823.targets.server import (
    ServerCapabilities,
    ServerEndpoints,
    TargetUnavailable,
    default_contact,
)
from rfc8823.targets.target_file import TargetSettings, ca_mail
from rfc8823.world.keys import cache_dir
from rfc8823.world.pki import TestPki
from rfc8823.world.ports import unused_port
from rfc8823.world.world import World

__all__ = [
    "APPLICATION",
    "DEFAULT_FROM",
    "PACKAGE",
    "Acme2certifierOptions",
    "Acme2certifierTarget",
    "config_sections",
    "ini_text",
    "install",
]

PACKAGE = "acme2certifier==0.46.3"
APPLICATION = "acme2certifier.share.acme2certifier_wsgi"
DEFAULT_FROM = "acme-challenge@ca.test"
HOST = "127.0.0.1"
PROFILE: Mapping[str, Mapping[str, str]] = {
    "extensions": {
        "basicConstraints": "critical, CA:FALSE",
        "extendedKeyUsage": "emailProtection",
        "subjectKeyIdentifier": "hash",
        "authorityKeyIdentifier": "keyid",
    }
}
"""The openssl extension profile acme2certifier applies to every certificate it issues."""
_POLL = 0.2
_LOG_TAIL = 30
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")

Sections = Mapping[str, Mapping[str, str]]
_TYPES: Mapping[str, type | tuple[type, ...]] = {
    "package": str,
    "validation_timeout": int,
    "validation_pause": int,
    "terms_of_service": str,
    "email_identifier_rewrite": bool,
    "start_timeout": (int, float),
    "install_timeout": (int, float),
    "cfg": dict,
}


@dataclass(frozen=True)
class Acme2certifierOptions:
    """The ``[acme2certifier]`` table of a target file (see the module docstring)."""

    package: str = PACKAGE
    validation_timeout: int = 10
    validation_pause: int = 1
    terms_of_service: str = ""
    email_identifier_rewrite: bool = False
    start_timeout: float = 60.0
    install_timeout: float = 600.0
    cfg: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Acme2certifierOptions:
        """The options a table gives; ValueError names an unknown key or a wrong type."""
        unknown = sorted(set(table) - set(_TYPES))
        if unknown:
            raise ValueError(f"[acme2certifier] unknown keys {unknown}; known: {sorted(_TYPES)}")
        values: dict[str, Any] = {}
        for name, value in table.items():
            if name == "cfg":
                values[name] = _cfg_table(value)
            elif isinstance(value, _TYPES[name]) and (
                isinstance(value, bool) == (_TYPES[name] is bool)
            ):
                values[name] = value
            else:
                wanted = getattr(cls(), name)
                raise ValueError(f"[acme2certifier] {name} must be like {wanted!r}, not {value!r}")
        return cls(**values)

    @property
    def version(self) -> str:
        """The version the package spec pins ("" when it pins none)."""
        name, equals, version = self.package.partition("==")
        return version.strip() if equals and name.strip() == "acme2certifier" else ""


def _cfg_table(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ValueError("[acme2certifier.cfg] holds one table per acme_srv.cfg section")
    return {
        str(section): {str(k): str(v) for k, v in keys.items()} for section, keys in value.items()
    }


def ini_text(sections: Sections) -> str:
    """An INI file of ``sections`` as acme2certifier reads it (no interpolation)."""
    blocks = []
    for section, keys in sections.items():
        for key, value in keys.items():
            if "\n" in key + value or "=" in key or ":" in key:
                raise ValueError(f"[{section}] {key!r}: no line breaks, '=' or ':' in keys")
        lines = [f"[{section}]", *(f"{key} = {value}" for key, value in keys.items())]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


@dataclass(frozen=True)
class MailAccount:
    """What acme2certifier's email handler needs: its address, login, SMTP and IMAP servers."""

    address: str
    login: str
    password: str
    smtp: tuple[str, int]
    smtp_starttls: bool
    imap: tuple[str, int]


def config_sections(
    options: Acme2certifierOptions, mail: MailAccount, folder: Path
) -> dict[str, dict[str, str]]:
    """acme2certifier's ``acme_srv.cfg``: email identifiers on, its mail account, the openssl
    CA handler with the files in ``folder``, SQLite in ``folder``; ``options.cfg`` on top."""
    sections: dict[str, dict[str, str]] = {
        "DEFAULT": {
            "debug": "False",
            "email_address": mail.address,
            "username": mail.login,
            "password": mail.password,
            "smtp_server": mail.smtp[0],
            "smtp_port": str(mail.smtp[1]),
            "smtp_use_tls": str(mail.smtp_starttls),
            "imap_server": mail.imap[0],
            "imap_port": str(mail.imap[1]),
            "imap_use_ssl": "False",
            "connection_timeout": "10",
        },
        "Helper": {"log_format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "Nonce": {"nonce_check_disable": "False"},
        "Directory": {"tos_url": options.terms_of_service} if options.terms_of_service else {},
        "Order": {
            "email_identifier_support": "True",
            "email_identifier_rewrite": str(options.email_identifier_rewrite),
            "tnauthlist_support": "False",
        },
        "Challenge": {
            "challenge_validation_timeout": str(options.validation_timeout),
            "dns_validation_pause_timer": str(options.validation_pause),
        },
        "Certificate": {"revocation_reason_check_disable": "False"},
        "CAhandler": {
            "handler_module": "acme2certifier.cahandlers.openssl_ca_handler",
            "issuing_ca_key": str(folder / "issuing-ca.key"),
            "issuing_ca_cert": str(folder / "issuing-ca.pem"),
            "issuing_ca_crl": str(folder / "issuing-ca.crl"),
            "ca_cert_chain_list": f'["{folder / "root-ca.pem"}"]',
            "cert_validity_days": "30",
            "cert_save_path": str(folder / "issued"),
            "openssl_conf": str(folder / "profile.cnf"),
        },
        "DBhandler": {
            "handler_module": "acme2certifier.dbhandlers.wsgi_handler",
            "dbfile": str(folder / "acme_srv.db"),
        },
    }
    for section, keys in options.cfg.items():
        sections.setdefault(section, {}).update(keys)
    return sections


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created), so parallel runs install once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install(package: str, folder: Path, *, timeout: float) -> Path:
    """The Python of a virtualenv in ``folder`` with ``package`` installed (made once).

    TargetUnavailable, with pip's last lines, when it cannot be installed.
    """
    venv, stamp = folder / "venv", folder / "installed"
    python = venv / "bin" / "python"
    with _locked(folder / "install.lock"):
        if stamp.exists() and stamp.read_text(encoding="utf-8") == package and python.exists():
            return python
        stamp.unlink(missing_ok=True)
        commands = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                package,
            ],
        ]
        for command in commands:
            try:
                done = subprocess.run(  # noqa: S603 - fixed argument lists, no shell
                    command, capture_output=True, text=True, timeout=timeout, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                raise TargetUnavailable(f"cannot install {package}: {error}") from error
            if done.returncode != 0:
                tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-5:])
                raise TargetUnavailable(f"cannot install {package} ({command[2]}): {tail}")
        stamp.write_text(package, encoding="utf-8")
    return python


class Acme2certifierTarget:
    """acme2certifier installed, configured and run on loopback, wired to the world."""

    def __init__(self, settings: TargetSettings) -> None:
        if settings.directory is not None or settings.ca_bundle is not None:
            raise ValueError("acme2certifier's directory and HTTPS trust are made by its target")
        if settings.mail.replies != "imap" or settings.mail.sending != "smarthost":
            raise ValueError(
                "acme2certifier reads replies over IMAP and sends through one SMTP server: "
                '[mail] replies = "imap", sending = "smarthost"'
            )
        if settings.eab is not None:
            raise ValueError("the acme2certifier target configures no external account binding")
        self.settings = settings
        self.options = Acme2certifierOptions.from_table(settings.kind_options)
        self.challenge_from = settings.challenge_from or DEFAULT_FROM
        self.folder = cache_dir() / "targets" / _SAFE.sub("-", self.options.package)
        self._mail = ca_mail(settings, self.challenge_from)
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: TextIO | None = None

    @property
    def name(self) -> str:
        """``acme2certifier`` unless the target file names it otherwise."""
        return self.settings.name or "acme2certifier"

    @property
    def version(self) -> str:
        """The version the target file gives, else the one the package spec pins."""
        return self.settings.version or self.options.version

    @property
    def capabilities(self) -> ServerCapabilities:
        """What the target file declares."""
        return self.settings.capabilities

    @property
    def log_path(self) -> Path:
        """acme2certifier's output during the last run."""
        return self.folder / "last-run.log"

    def wire(self, world: World) -> None:
        """Start its mailbox and smarthost login and route its ``from`` domain (once per world);
        nothing without Dovecot (``start`` then reports the target unavailable)."""
        if dovecot_binary() is not None:
            self._mail.start(world)

    def header_lines(self) -> list[str]:
        """Its mailbox and smarthost login, and where its log goes."""
        return [*self._mail.header_lines(), f"acme2certifier log: {self.log_path}"]

    def start(self, world: World) -> ServerEndpoints:
        """Install it if needed, configure it for ``world`` and run it; TargetUnavailable when
        it cannot be installed or Dovecot is missing, RuntimeError when it does not come up."""
        if dovecot_binary() is None:
            raise TargetUnavailable(
                "acme2certifier reads replies over IMAP and needs Dovecot "
                "(apt-get install dovecot-imapd)"
            )
        try:
            python = install(
                self.options.package, self.folder, timeout=self.options.install_timeout
            )
            self.wire(world)
            return self._run(world, python)
        except BaseException:
            self.stop()
            raise

    def _run(self, world: World, python: Path) -> ServerEndpoints:
        mail = self._mail
        mailbox, smarthost = mail.mailbox, mail.smarthost
        assert mailbox is not None
        assert smarthost is not None
        workdir = self._workdir = Path(tempfile.mkdtemp(prefix="rfc8823-acme2certifier-"))
        account = MailAccount(
            address=self.challenge_from,
            login=mail.login,
            password=mail.password,
            smtp=smarthost,
            smtp_starttls=self.settings.mail.smarthost_tls == "starttls",
            imap=(mailbox.account.host, mailbox.account.port),
        )
        config = workdir / "acme_srv.cfg"
        config.write_text(ini_text(config_sections(self.options, account, workdir)))
        (workdir / "profile.cnf").write_text(ini_text(PROFILE))
        (workdir / "issued").mkdir()
        cert, key = _write_pki(world.pki, workdir)
        port = unused_port(HOST)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w", encoding="utf-8")
        self._process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
            [
                str(python),
                "-P",  # not its own folder first: acme2certifier.py there is this module
                "-u",
                wsgi_https.__file__,
                f"--host={HOST}",
                f"--port={port}",
                f"--cert={cert}",
                f"--key={key}",
                f"--app={APPLICATION}:application",
                f"--handler={APPLICATION}:get_handler_cls",
            ],
            cwd=workdir,
            env={**os.environ, "ACME_SRV_CONFIGFILE": str(config)},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        directory = f"https://{HOST}:{port}/directory"
        self._wait_for(directory, world.pki.ca_bundle_path())
        settings = self.settings
        return ServerEndpoints(
            directory_url=directory,
            challenge_from=self.challenge_from,
            reply_smtp=mail.reply_route,
            ca_bundle=world.pki.ca_bundle_path(),
            smime_trust_anchors=(world.pki.trust_anchor_path,),
            contact=default_contact(world) if settings.contact is None else settings.contact,
            agree_terms=settings.agree_terms,
        )

    def _wait_for(self, directory: str, ca_bundle: Path) -> None:
        """Poll the directory (the only readiness signal a WSGI app gives) while it runs."""

        def still_running() -> None:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"acme2certifier exited at start: {self._log_tail()}")

        trust = ssl.create_default_context(cafile=str(ca_bundle))
        try:
            wait_for_directory(
                directory, trust, self.options.start_timeout, still_running=still_running
            )
        except ConnectionError as error:
            raise RuntimeError(
                f"acme2certifier did not come up: {error}: {self._log_tail()}"
            ) from error

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-_LOG_TAIL:]) + f" (log: {self.log_path})"

    def stop(self) -> None:
        """Stop acme2certifier, its mailbox and the route; safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        log, self._log = self._log, None
        if log is not None:
            log.close()
        self._mail.stop()
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def advance_clock(self, seconds: float) -> None:
        """acme2certifier keeps its own clock: it does not declare ``time_travel``."""
        raise NotImplementedError(f"{self.name} keeps its own clock (no time_travel capability)")

    def internal_errors(self) -> list[str]:
        """acme2certifier's failures show as its answers (a 500 is judged where it happens)."""
        return []


def _write_pki(pki: TestPki, folder: Path) -> tuple[Path, Path]:
    """The issuing CA (key and certificate), its root, the HTTPS certificate and key."""
    pem = serialization.Encoding.PEM
    unencrypted = (pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    issuing = pki.acme_issuing
    (folder / "issuing-ca.key").write_bytes(issuing.key.private_bytes(*unencrypted))
    (folder / "issuing-ca.pem").write_bytes(issuing.cert.public_bytes(pem))
    (folder / "root-ca.pem").write_bytes(pki.smime_root.cert.public_bytes(pem))
    cert, key = pki.tls_server_cert(["localhost", HOST])
    cert_path, key_path = folder / "https.pem", folder / "https.key"
    cert_path.write_bytes(cert.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(*unencrypted))
    return cert_path, key_path
