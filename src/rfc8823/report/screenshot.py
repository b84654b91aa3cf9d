"""Render a report page to PNG with headless Chromium, and list the page's console errors.

``python -m rfc8823.report.screenshot reports/<name>.html out.png`` exits 0 when the PNG was
written and the page logged no console error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_CONSOLE_MARKERS = ("CONSOLE", "Uncaught")


@dataclass(frozen=True, slots=True)
class Screenshot:
    """What Chromium did: the PNG (if written), console errors, exit status and its stderr."""

    png: Path
    written: bool
    console_errors: tuple[str, ...]
    returncode: int
    stderr: str

    @property
    def ok(self) -> bool:
        """The PNG exists and the page logged no console error."""
        return self.written and not self.console_errors and self.returncode == 0


def find_chromium() -> str | None:
    """The path of a Chromium binary on PATH, or None."""
    return next((path for name in _BROWSERS if (path := shutil.which(name))), None)


def console_errors(stderr: str) -> tuple[str, ...]:
    """The lines of Chromium's log that report a page console message or an uncaught error."""
    return tuple(line for line in stderr.splitlines() if any(m in line for m in _CONSOLE_MARKERS))


def render_screenshot(
    page: Path,
    png: Path,
    *,
    chromium: str | None = None,
    width: int = 1280,
    height: int = 2000,
    timeout: float = 60.0,
) -> Screenshot:
    """Load ``page`` (a local HTML file) in headless Chromium and save a screenshot to ``png``.

    Raises FileNotFoundError when no Chromium is installed, TimeoutExpired past ``timeout``
    (Chromium and its helper processes are killed first).
    """
    binary = chromium or find_chromium()
    if binary is None:
        raise FileNotFoundError("no chromium binary on PATH (Debian: apt-get install chromium)")
    png = png.resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="rfc8823-chromium-") as profile:
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            page.resolve().as_uri(),
        ]
        returncode, stderr = _run_group(command, timeout)
    return Screenshot(
        png=png,
        written=png.is_file() and png.stat().st_size > 0,
        console_errors=console_errors(stderr),
        returncode=returncode,
        stderr=stderr,
    )


def _run_group(command: list[str], timeout: float) -> tuple[int, str]:
    """Run ``command`` in its own process group; past ``timeout`` kill the whole group."""
    process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return process.returncode, stderr


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: render one page; 0 on success, 1 on console errors or no PNG, 2 no browser."""
    parser = argparse.ArgumentParser(prog="python -m rfc8823.report.screenshot")
    parser.add_argument("page", type=Path, help="the report's HTML file")
    parser.add_argument("png", type=Path, help="where to write the screenshot")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2000)
    args = parser.parse_args(argv)
    try:
        shot = render_screenshot(args.page, args.png, width=args.width, height=args.height)
    except FileNotFoundError as exc:
        print(f"screenshot: {exc}", file=sys.stderr)
        return 2
    for line in shot.console_errors:
        print(f"screenshot: console: {line}", file=sys.stderr)
    if not shot.written:
        print(f"screenshot: chromium wrote no PNG (exit {shot.returncode})", file=sys.stderr)
        sys.stderr.write(shot.stderr)
    else:
        print(shot.png)
    return 0 if shot.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
