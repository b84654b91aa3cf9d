"""Server-side anti-replay nonces: unpredictable, single use, bounded memory (RFC 8555 §6.5)."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict

from rfc8823.tokens import b64url_encode

DEFAULT_CAPACITY = 10_000
NONCE_OCTETS = 16


class NonceSource:
    """Issues nonces from the OS CSPRNG and accepts each exactly once (A-NONCE-1, A-NONCE-2).

    At most ``capacity`` nonces are outstanding; issuing beyond that forgets the oldest, whose
    later use then fails with ``badNonce`` (the client retries with the fresh nonce it gets).
    Thread-safe.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, octets: int = NONCE_OCTETS) -> None:
        if capacity < 1 or octets < 16:
            raise ValueError("a nonce source needs capacity >= 1 and at least 16 octets")
        self._capacity = capacity
        self._octets = octets
        self._outstanding: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def new(self) -> str:
        """A fresh nonce, unpadded base64url (RFC 8555 §6.5.1)."""
        nonce = b64url_encode(secrets.token_bytes(self._octets))
        with self._lock:
            self._outstanding[nonce] = None
            while len(self._outstanding) > self._capacity:
                self._outstanding.popitem(last=False)
        return nonce

    def consume(self, nonce: str) -> bool:
        """Whether ``nonce`` was issued and not yet used; it is used up either way."""
        with self._lock:
            return self._outstanding.pop(nonce, False) is None

    def __len__(self) -> int:
        with self._lock:
            return len(self._outstanding)
