"""``rfc8823 serve``: run the reference CA until SIGINT/SIGTERM.

Configuration comes from an optional TOML file (see ``ServerConfig.from_toml``), then flags;
faults named in ``RFC8823_FAULTS`` are switched on (self-validation, ``rfc8823.faults``).
``--embedded-dns`` starts a test world alongside (DNS, MX, submission) so the CA has a resolver
and an MX to mail, with extra zone data from ``--zone-file``. The endpoints are printed one per
line as ``name: value`` for scripts to read.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

from rfc8823.auth.resolver import DnsEndpoint
from rfc8823.endpoints import parse_host_port
from rfc8823.faults import FAULTS_ENV, FaultSet, UnknownFaultError
from rfc8823.server.config import ServerConfig
from rfc8823.server.runner import ReferenceServer
from rfc8823.server.zonefile import load_zone_file
from rfc8823.world.world import World

log = logging.getLogger(__name__)


def _host_port(text: str) -> tuple[str, int]:
    try:
        return parse_host_port(text, "127.0.0.1")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="run the reference ACME CA (RFC 8555 + RFC 8823 email-reply-00)",
        description=__doc__,
    )
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument("--http", type=_host_port, metavar="HOST:PORT", help="HTTPS listener")
    parser.add_argument("--db", type=Path, help="SQLite database (default: in memory)")
    parser.add_argument("--resolver", type=_host_port, metavar="HOST:PORT", help="DNS server")
    parser.add_argument(
        "--embedded-dns",
        action="store_true",
        help="start a test world (DNS, MX, submission) and use its DNS and MX",
    )
    parser.add_argument("--zone-file", type=Path, help="extra records for the embedded DNS")
    parser.add_argument(
        "--smarthost",
        type=_host_port,
        metavar="HOST:PORT",
        help="send every challenge email through this SMTP server instead of the MX",
    )
    parser.add_argument(
        "--smarthost-tls",
        choices=("none", "starttls", "implicit"),
        help="how to talk to the smarthost (default none; AUTH needs starttls or implicit)",
    )
    parser.add_argument("--smarthost-user", metavar="LOGIN", help="smarthost AUTH login")
    parser.add_argument("--smarthost-password", metavar="PASSWORD", help="smarthost AUTH password")
    parser.add_argument("--mx-port", type=int, help="port of the recipients' MX hosts")
    parser.add_argument("--reply", type=_host_port, metavar="HOST:PORT", help="reply listener")
    parser.add_argument(
        "--reply-imap",
        type=_host_port,
        metavar="HOST:PORT",
        help="read replies from this IMAP server's INBOX instead of listening for them",
    )
    parser.add_argument("--reply-imap-user", metavar="LOGIN", help="IMAP login for replies")
    parser.add_argument("--reply-imap-password", metavar="PASSWORD", help="its password")
    parser.add_argument(
        "--reply-imap-tls",
        choices=("none", "starttls", "implicit"),
        help="TLS to the IMAP server (default none)",
    )
    parser.add_argument("--from", dest="challenge_from", help="the challenge 'from' address")
    parser.add_argument("--dkim-domain", help="DKIM d= (default: the from domain)")
    parser.add_argument("--dkim-selector", help="DKIM selector (default: rsa)")
    parser.add_argument("--dkim-key", type=Path, help="PEM private key for DKIM")
    parser.add_argument(
        "--smime-sign", action="store_true", default=None, help="S/MIME-sign challenge emails"
    )
    parser.add_argument(
        "--smime-header-protection",
        choices=("rfc8551", "rfc7508"),
        help="with --smime-sign: protect the header by message/rfc822 wrapping (RFC 8551, "
        "the default) or a SecureHeaderFields signed attribute (RFC 7508)",
    )
    parser.add_argument("--eab-required", action="store_true", default=None)
    parser.set_defaults(handler=serve)


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The configuration: TOML file (if any), the flags given, then ``RFC8823_FAULTS``."""
    base = ServerConfig.from_toml(args.config) if args.config else ServerConfig()
    changes: dict[str, Any] = {
        "db_path": args.db,
        "resolver": DnsEndpoint(*args.resolver) if args.resolver else None,
        "smarthost": args.smarthost,
        "smarthost_tls": args.smarthost_tls,
        "smarthost_user": args.smarthost_user,
        "smarthost_password": args.smarthost_password,
        "reply_imap": args.reply_imap,
        "reply_imap_user": args.reply_imap_user,
        "reply_imap_password": args.reply_imap_password,
        "reply_imap_tls": args.reply_imap_tls,
        "mx_port": args.mx_port,
        "challenge_from": args.challenge_from,
        "dkim_domain": args.dkim_domain,
        "dkim_selector": args.dkim_selector,
        "dkim_key_path": args.dkim_key,
        "smime_sign": args.smime_sign,
        "smime_header_protection": args.smime_header_protection,
        "eab_required": args.eab_required,
        "faults": FaultSet.from_env() or None,
    }
    if args.http:
        changes["http_host"], changes["http_port"] = args.http
    if args.reply:
        changes["reply_host"], changes["reply_port"] = args.reply
    return base.with_overrides(**changes)


class _UsageError(Exception):
    """A configuration ``serve`` cannot run with: printed, exit status 2."""


def serve(args: argparse.Namespace) -> int:
    """Run until a signal; exit status 0 after a clean stop, 2 on a configuration error."""
    try:
        return _serve(args)
    except _UsageError as error:
        print(f"rfc8823 serve: {error}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    config = _configured(args)
    stop = _stop_on_signals()
    with ExitStack() as stack:
        world: World | None = None
        lines: list[tuple[str, str]] = []
        if args.embedded_dns:
            world = stack.enter_context(World())
            config, lines = _use_world(world, args, config)
        elif args.zone_file is not None:
            raise _UsageError("--zone-file needs --embedded-dns")
        if config.resolver is None:
            raise _UsageError("give --resolver HOST:PORT or --embedded-dns")
        server = stack.enter_context(ReferenceServer(config))
        if (
            world is not None
            and config.reply_imap is None
            and config.challenge_domain in world.domains
        ):
            world.route(config.challenge_domain, *server.reply_endpoint)
        for name, value in _endpoint_lines(server, config, lines):
            print(f"{name}: {value}", flush=True)
        while not stop.wait(timeout=1.0):
            continue
        log.info("stopping")
    return 0


def _configured(args: argparse.Namespace) -> ServerConfig:
    try:
        return config_from_args(args)
    except UnknownFaultError as error:
        raise _UsageError(f"{FAULTS_ENV}: {error.args[0]}") from None
    except (OSError, ValueError) as error:
        raise _UsageError(str(error)) from None


def _stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    return stop


def _use_world(
    world: World, args: argparse.Namespace, config: ServerConfig
) -> tuple[ServerConfig, list[tuple[str, str]]]:
    """The configuration using the embedded world's DNS and MX, and the world's endpoints."""
    if args.zone_file is not None:
        load_zone_file(args.zone_file, world.dns)
    config = config.with_overrides(
        resolver=config.resolver or world.dns_endpoint,
        mx_port=args.mx_port or world.mx.port,
    )
    lines = [
        ("dns", f"{world.dns_endpoint.host}:{world.dns_endpoint.port}"),
        ("world-mx", f"{world.mx.host}:{world.mx.port}"),
        ("world-submission", f"{world.submission.host}:{world.submission.port}"),
    ]
    return config, lines


def _endpoint_lines(
    server: ReferenceServer, config: ServerConfig, world_lines: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The ``name: value`` lines printed for scripts: the CA's endpoints, then the world's."""
    if config.reply_imap is None:
        host, port = server.reply_endpoint
        replies = ("reply-smtp", f"{host}:{port}")
    else:
        host, port = config.reply_imap
        replies = ("reply-imap", f"{config.reply_imap_user}@{host}:{port}")
    lines = [
        ("directory", server.directory_url),
        ("ca-bundle", str(server.ca_bundle)),
        replies,
        ("challenge-from", config.challenge_from),
        *world_lines,
    ]
    if config.faults:
        lines.append(("faults", ",".join(config.faults)))
    return lines
