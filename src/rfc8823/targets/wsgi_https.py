"""Serve a WSGI application over HTTPS on loopback: the web server of a CA the suite runs.

Run with the CA's own interpreter (its virtualenv), so it uses the standard library only::

    python wsgi_https.py --port 8443 --cert cert.pem --key key.pem \\
        --app package.module:application [--handler package.module:handler_factory]

A thread per request, as a production WSGI server would run the application. The WSGI
environ says ``wsgi.url_scheme = https`` and ``HTTPS = on`` (PEP 3333), so the application
builds ``https://`` URLs. Prints ``listening on https://HOST:PORT/`` once ready; stops on
SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import socketserver
import ssl
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

Application = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ThreadingWsgiServer(socketserver.ThreadingMixIn, WSGIServer):
    """``wsgiref``'s server with one thread per request."""

    daemon_threads = True


def load(reference: str) -> Any:
    """The object named ``module:attribute``."""
    module, colon, attribute = reference.partition(":")
    if not colon:
        raise ValueError(f"{reference!r} is not module:attribute")
    return getattr(importlib.import_module(module), attribute)


def over_https(application: Application) -> Application:
    """``application`` told that its requests came over TLS (PEP 3333 ``wsgi.url_scheme``)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["wsgi.url_scheme"] = "https"
        environ["HTTPS"] = "on"
        return application(environ, start_response)

    return wrapped


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until a signal; exit status 0 after a clean stop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True, help="PEM certificate chain")
    parser.add_argument("--key", required=True, help="PEM private key")
    parser.add_argument("--app", required=True, metavar="MODULE:ATTRIBUTE")
    parser.add_argument(
        "--handler", metavar="MODULE:FACTORY", help="returns the request handler class"
    )
    args = parser.parse_args(argv)
    handler: type[WSGIRequestHandler] = load(args.handler)() if args.handler else WSGIRequestHandler
    server = ThreadingWsgiServer((args.host, args.port), handler)
    server.set_app(over_https(load(args.app)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    print(f"listening on https://{args.host}:{args.port}/", flush=True)
    with server:
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
