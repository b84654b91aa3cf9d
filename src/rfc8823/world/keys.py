"""Private keys generated once and cached on disk, so runs are fast and xdist workers agree."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, get_args

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rfc8823.values import KeyKind, PrivateKey

__all__ = ["KeyKind", "PrivateKey", "cache_dir", "cached_file", "cached_key"]

T = TypeVar("T")

_log = logging.getLogger(__name__)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_RSA_BITS: dict[KeyKind, int] = {"rsa1024": 1024, "rsa2048": 2048, "rsa3072": 3072}
_CURVES: dict[KeyKind, type[ec.EllipticCurve]] = {"p256": ec.SECP256R1, "p384": ec.SECP384R1}
_PUBLISH_ATTEMPTS = 5
_memo: dict[Path, PrivateKey] = {}


def cache_dir() -> Path:
    """The cache root: $RFC8823_CACHE, else $XDG_CACHE_HOME/rfc8823, else ~/.cache/rfc8823."""
    explicit = os.environ.get("RFC8823_CACHE")
    if explicit:
        root = Path(explicit)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "rfc8823"
    root.mkdir(parents=True, exist_ok=True)
    return root


def cached_key(name: str, kind: KeyKind, *, cache: Path | None = None) -> PrivateKey:
    """The key called `name` of `kind`, from `<cache>/keys/<name>.<kind>.pem`, made on first use."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"key name {name!r} must be letters, digits, '.', '_' or '-'")
    if kind not in get_args(KeyKind):
        raise ValueError(f"unknown key kind {kind!r}; expected one of {get_args(KeyKind)}")
    path = (cache or cache_dir()) / "keys" / f"{name}.{kind}.pem"
    if path not in _memo:
        _memo[path] = cached_file(path, lambda data: _parse_key(data, kind), lambda: _new_key(kind))
    return _memo[path]


def cached_file(
    path: Path,
    parse: Callable[[bytes], T | None],
    create: Callable[[], tuple[T, bytes]],
) -> T:
    """Read `path` if `parse` accepts it, else publish `create()`'s bytes; the first writer wins.

    A new file is written to a temporary name in the same folder and hard-linked into place,
    so a racing process either wins or reads the winner's complete file. A file that `parse`
    rejects (corrupt, expired) is removed and replaced, with a warning.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(_PUBLISH_ATTEMPTS):
        found = _read_valid(path, parse)
        if found is not None:
            return found
        value, data = create()
        if _publish(path, data):
            return value
    raise RuntimeError(f"could not publish {path} after {_PUBLISH_ATTEMPTS} attempts")


def _read_valid(path: Path, parse: Callable[[bytes], T | None]) -> T | None:
    """The parsed content of `path`; None when missing or rejected (a rejected file is removed)."""
    try:
        with path.open("rb") as stream:
            inode = os.fstat(stream.fileno()).st_ino
            data = stream.read()
    except FileNotFoundError:
        return None
    value = parse(data)
    if value is None:
        _log.warning("cached file %s is corrupt or stale; replacing it", path)
        try:
            if path.stat().st_ino == inode:
                path.unlink()
        except FileNotFoundError:
            pass
    return value


def _publish(path: Path, data: bytes) -> bool:
    """Link a complete mode-0600 file holding `data` at `path`; False when another was first."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def _new_key(kind: KeyKind) -> tuple[PrivateKey, bytes]:
    key: PrivateKey
    if kind in _RSA_BITS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[kind])
    elif kind in _CURVES:
        key = ec.generate_private_key(_CURVES[kind]())
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key, pem


def _parse_key(data: bytes, kind: KeyKind) -> PrivateKey | None:
    """The PEM key in `data` if it is a well-formed key of `kind`, else None."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if isinstance(key, rsa.RSAPrivateKey):
        return key if _RSA_BITS.get(kind) == key.key_size else None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curve = _CURVES.get(kind)
        return key if curve is not None and isinstance(key.curve, curve) else None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key if kind == "ed25519" else None
    return None
