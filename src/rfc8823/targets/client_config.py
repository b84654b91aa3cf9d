"""A client target described in a TOML file: the command that runs it and what it declares.

``pytest suites/client --client-config my-client.toml`` tests a client program the way
``--client-command`` does, with what a real client needs around its command line::

    [target]
    name = "my-mua"                  # as reports show it
    version = "1.2"

    [inputs]                         # environment variables the command needs, e.g. where the
    MY_MUA = "path of its checkout"  # client is installed: a placeholder {MY_MUA} each; unset,
                                     # every test is UNSUPPORTED with this text
    [command]
    template = "{MY_MUA}/bin/mua enroll --email={email} {usage} ..."
    timeout = 120                    # seconds an enrollment may take (its own waits and more);
                                     # the default of --client-timeout
    [command.environment]            # set for the command; values take placeholders
    SSL_CERT_FILE = "{ca_bundle}"

    [command.values.usage]           # a placeholder's value in the client's own words; a list
    both = ["--sign", "--encrypt"]   # is several arguments (the placeholder alone in its word)

    [capabilities]                   # as --client-capability: lists and flags
    mailbox = ["imap"]
    key-type = ["rsa"]
    restart = true

    [peer-ca]                        # compatibility variants of the suite's CA (PeerVariants)
    dns-address-identifiers = true
    unsigned-challenges = false
    mail-at = "authz"

    [mailbox]                        # how challenge mail reaches it (MailboxPacing)
    delay = 2.0
    spacing = 2.0
    when-watching = true

Placeholders are those of :data:`~rfc8823.targets.command_client.PLACEHOLDERS` plus the
inputs. Every key is checked: an unknown one is an error, not ignored.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rfc8823.targets.client import ClientCapabilities, MailboxPacing
from rfc8823.targets.command_client import CommandClient, ValueMaps
from rfc8823.targets.peer_ca import PeerVariants

_SECTIONS = frozenset({"target", "inputs", "command", "capabilities", "peer-ca", "mailbox"})
_COMMAND_KEYS = frozenset({"template", "timeout", "environment", "values"})
_PEER_KEYS = {
    "dns-address-identifiers": "dns_address_identifiers",
    "unsigned-challenges": "unsigned_challenges",
    "mail-at": "mail_at",
}
_PACING_KEYS = {"delay": "delay", "spacing": "spacing", "when-watching": "when_watching"}


@dataclass(frozen=True)
class ClientTargetConfig:
    """A command client target as its TOML file describes it."""

    path: Path
    name: str
    version: str
    template: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    values: ValueMaps = field(default_factory=dict)
    timeout: float | None = None
    capabilities: ClientCapabilities = field(default_factory=ClientCapabilities)
    variants: PeerVariants = field(default_factory=PeerVariants)
    pacing: MailboxPacing = field(default_factory=MailboxPacing)

    @classmethod
    def load(cls, path: Path) -> ClientTargetConfig:
        """Read and check ``path``; ValueError (naming the file) for anything wrong in it."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            return cls._from_data(path, data)
        except (OSError, tomllib.TOMLDecodeError, ValueError, TypeError) as error:
            raise ValueError(f"{path}: {error}") from None

    @classmethod
    def _from_data(cls, path: Path, data: Mapping[str, Any]) -> ClientTargetConfig:
        _known_keys("the file", data, _SECTIONS)
        target = _table(data, "target")
        _known_keys("[target]", target, {"name", "version"})
        command = _table(data, "command")
        _known_keys("[command]", command, _COMMAND_KEYS)
        template = command.get("template")
        if not isinstance(template, str) or not template.strip():
            raise ValueError("[command] template is missing or empty")
        timeout = command.get("timeout")
        if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
            raise ValueError(f"[command] timeout must be a positive number, not {timeout!r}")
        return cls(
            path=path,
            name=_text(target, "name", "[target]", default=path.stem),
            version=_text(target, "version", "[target]", default=""),
            template=template,
            inputs=_strings(_table(data, "inputs"), "[inputs]"),
            environment=_strings(_table(command, "environment"), "[command.environment]"),
            values=_value_maps(_table(command, "values")),
            timeout=float(timeout) if timeout is not None else None,
            capabilities=ClientCapabilities.from_declarations(
                _declarations(_table(data, "capabilities"))
            ),
            variants=PeerVariants(**_renamed(_table(data, "peer-ca"), _PEER_KEYS, "[peer-ca]")),
            pacing=MailboxPacing(**_renamed(_table(data, "mailbox"), _PACING_KEYS, "[mailbox]")),
        )

    def missing_inputs(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The inputs whose environment variable is unset or empty, with what each is for."""
        values = os.environ if environ is None else environ
        return {name: about for name, about in self.inputs.items() if not values.get(name)}

    def client(
        self, *, name: str | None = None, version: str | None = None, environ: Mapping[str, str]
    ) -> CommandClient:
        """The command client this file describes, inputs taken from ``environ``.

        An input left unset makes the client unavailable (every test UNSUPPORTED), saying
        which variable to set and what for.
        """
        missing = self.missing_inputs(environ)
        unavailable = "; ".join(
            f"set {variable} ({about}; see {self.path.name})"
            for variable, about in missing.items()
        )
        return CommandClient(
            self.template,
            self.capabilities,
            label=name or self.name,
            release=version or self.version,
            environment=self.environment,
            values=self.values,
            inputs={n: environ.get(n, "") for n in self.inputs},
            unavailable=unavailable,
        )


def _known_keys(where: str, table: Mapping[str, Any], known: set[str] | frozenset[str]) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ValueError(f"unknown keys {unknown} in {where}; known: {sorted(known)}")


def _table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"[{name}] must be a table")
    return value


def _text(table: Mapping[str, Any], key: str, where: str, *, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{where} {key} must be a string, not {value!r}")
    return value


def _strings(table: Mapping[str, Any], where: str) -> dict[str, str]:
    for key, value in table.items():
        if not isinstance(value, str) or not key:
            raise ValueError(f"{where} {key} must be a string, not {value!r}")
    return dict(table)


def _value_maps(table: Mapping[str, Any]) -> ValueMaps:
    """``[command.values.NAME]`` tables: each value a word or a list of words."""
    maps: dict[str, dict[str, tuple[str, ...]]] = {}
    for placeholder, mapping in table.items():
        if not isinstance(mapping, Mapping):
            raise ValueError(f"[command.values.{placeholder}] must be a table")
        words: dict[str, tuple[str, ...]] = {}
        for value, mapped in mapping.items():
            listed = [mapped] if isinstance(mapped, str) else mapped
            if not isinstance(listed, list) or not all(isinstance(w, str) for w in listed):
                raise ValueError(
                    f"[command.values.{placeholder}] {value} must be a string or a list of "
                    f"strings, not {mapped!r}"
                )
            words[value] = tuple(listed)
        maps[placeholder] = words
    return maps


def _declarations(table: Mapping[str, Any]) -> list[str]:
    """``[capabilities]`` as the ``NAME`` / ``NAME=V1,V2`` items --client-capability takes."""
    items: list[str] = []
    for name, value in table.items():
        if value is True:
            items.append(name)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items.append(f"{name}={','.join(value)}")
        elif value is not False:
            raise ValueError(f"[capabilities] {name} must be true/false or a list of strings")
    return items


def _renamed(table: Mapping[str, Any], names: Mapping[str, str], where: str) -> dict[str, Any]:
    _known_keys(where, table, set(names))
    return {names[key]: value for key, value in table.items()}
