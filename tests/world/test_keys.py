"""Cached keys: one key per name and kind, shared by racing processes, repaired when corrupt."""

from __future__ import annotations

import logging
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rfc8823.world.keys import KeyKind, PrivateKey, cache_dir, cached_key

RACERS = 4
RACE_TIMEOUT = 60.0
RACER = """
import sys
from cryptography.hazmat.primitives import serialization
from rfc8823.world.keys import cached_key
print("ready", flush=True)
sys.stdin.readline()
key = cached_key("race", "rsa2048")
sys.stdout.buffer.write(key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RFC8823_CACHE", str(tmp_path))
    return tmp_path


def public_der(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    )
    return key


def test_cache_dir_prefers_rfc8823_cache_then_xdg_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$RFC8823_CACHE wins, then $XDG_CACHE_HOME/rfc8823, then ~/.cache/rfc8823; made on demand."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("RFC8823_CACHE", raising=False)
    assert cache_dir() == tmp_path / "home" / ".cache" / "rfc8823"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "rfc8823"
    monkeypatch.setenv("RFC8823_CACHE", str(tmp_path / "explicit"))
    assert cache_dir() == tmp_path / "explicit"
    assert cache_dir().is_dir()


def test_same_name_and_kind_give_the_same_key(cache: Path) -> None:
    """A second request returns the memoised key; the file on disk holds that same key."""
    key = cached_key("twice", "p256")
    assert cached_key("twice", "p256") is key
    assert public_der(load_key(cache / "keys" / "twice.p256.pem")) == public_der(key)


def test_key_file_is_unencrypted_pkcs8_with_mode_0600(cache: Path) -> None:
    """The file is PKCS#8 PEM, readable by its owner only, and no temporary file is left."""
    cached_key("private", "ed25519")
    path = cache / "keys" / "private.ed25519.pem"
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(path.parent.iterdir()) == [path]


@pytest.mark.parametrize(
    ("kind", "key_type", "size"),
    [
        ("rsa1024", rsa.RSAPrivateKey, 1024),
        ("rsa2048", rsa.RSAPrivateKey, 2048),
        ("rsa3072", rsa.RSAPrivateKey, 3072),
        ("p256", ec.EllipticCurvePrivateKey, 256),
        ("p384", ec.EllipticCurvePrivateKey, 384),
        ("ed25519", ed25519.Ed25519PrivateKey, None),
    ],
)
def test_each_kind_gives_its_algorithm_and_size(
    kind: KeyKind, key_type: type[PrivateKey], size: int | None
) -> None:
    """Every KeyKind yields the named algorithm and size (default cache, so reruns are quick)."""
    key = cached_key("test-keys-kind", kind)
    assert isinstance(key, key_type)
    if size is not None:
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        assert key.key_size == size


def test_racing_processes_end_up_with_one_key(cache: Path) -> None:
    """Processes released together generate, race to publish, and all return the winner's key."""
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(RACERS)
    ]
    try:
        deadline = time.monotonic() + RACE_TIMEOUT
        for racer in racers:
            assert racer.stdout is not None
            readable, _, _ = select.select([racer.stdout], [], [], deadline - time.monotonic())
            assert readable, "a racing process did not start in time"
            assert racer.stdout.readline() == b"ready\n"
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write(b"go\n")
            racer.stdin.flush()
        outputs = [racer.communicate(timeout=deadline - time.monotonic()) for racer in racers]
    finally:
        for racer in racers:
            racer.kill()
            racer.wait(timeout=RACE_TIMEOUT)
    assert [racer.returncode for racer in racers] == [0] * RACERS, [err for _, err in outputs]
    published = load_key(cache / "keys" / "race.rsa2048.pem").public_key()
    expected = published.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert {out for out, _ in outputs} == {expected}
    assert list((cache / "keys").iterdir()) == [cache / "keys" / "race.rsa2048.pem"]


def test_corrupt_file_is_regenerated_with_a_warning(
    cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage in the cache is replaced by a fresh key, never a crash."""
    path = cache / "keys" / "broken.p256.pem"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64\n")
    with caplog.at_level(logging.WARNING, logger="rfc8823.world.keys"):
        key = cached_key("broken", "p256")
    assert "corrupt or stale" in caplog.text
    assert public_der(load_key(path)) == public_der(key)


def test_key_of_another_kind_in_the_file_is_replaced(cache: Path) -> None:
    """A P-256 key stored under an rsa1024 name is not handed out as that kind."""
    path = cache / "keys" / "mixed.rsa1024.pem"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key = cached_key("mixed", "rsa1024")
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 1024


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden"])
def test_names_that_are_not_plain_file_names_are_refused(cache: Path, name: str) -> None:
    """A key name cannot leave the keys folder or hide its file."""
    with pytest.raises(ValueError, match="key name"):
        cached_key(name, "p256")
