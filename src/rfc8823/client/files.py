"""Write a set of files all or nothing: temporary files in the target folders, then renames.

Private keys get mode 0600 from the moment they exist (the temporary file is created so).
If anything fails, the temporary files are removed and the files already renamed into place
by this call are removed too, so a failed enrollment leaves no half-written key or chain.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

FileSpec = tuple[Path, bytes, int]
"""A file to write: its path, its content and its permission bits."""


def _temporary(path: Path, data: bytes, mode: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def write_atomically(files: Sequence[FileSpec]) -> None:
    """Write every file, or none of them; ``OSError`` says why when it fails."""
    temporaries: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for path, data, mode in files:
            temporaries.append((_temporary(path, data, mode), path))
        for temporary, path in temporaries:
            os.replace(temporary, path)
            placed.append(path)
    except BaseException:
        for temporary, path in temporaries:
            for leftover in (temporary, *([path] if path in placed else [])):
                with contextlib.suppress(OSError):
                    leftover.unlink()
        raise
