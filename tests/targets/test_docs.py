"""docs/testing-a-ca.md stays true: its target file example is valid, its capability table
lists every capability with its default and meaning."""

from __future__ import annotations

import re
from pathlib import Path

from rfc8823.targets import capability_table
from rfc8823.targets.target_file import settings_from_options

from .test_remote_run import ROOT

DOC = ROOT / "docs" / "testing-a-ca.md"


def test_the_documented_target_file_is_valid(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, re.DOTALL)
    full = next(block for block in blocks if block.startswith("[target]"))
    path = tmp_path / "ca.toml"
    path.write_text(full, encoding="utf-8")
    settings = settings_from_options(config_file=path)
    assert settings.mail.reply_smtp == ("127.0.0.1", 2525)
    assert settings.world_ports.dns == 5353


def test_every_capability_is_documented_with_its_default() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name, default, meaning in capability_table():
        shown = "none" if default is None else str(default).lower()
        assert f"| `{name}` | {shown} | {meaning} |" in text, name
