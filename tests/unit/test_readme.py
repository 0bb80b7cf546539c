"""The README documents every setting the server reads."""

from __future__ import annotations

from pathlib import Path

from server.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_appears_in_the_readme() -> None:
    text = README.read_text()
    missing = [
        f"TEXTLENS_{name.upper()}"
        for name in Settings.model_fields
        if f"`TEXTLENS_{name.upper()}`" not in text
    ]
    assert missing == []


def test_the_readme_starts_with_make_run_and_make_test() -> None:
    commands = [
        line.split()[0:2] for line in README.read_text().splitlines() if line.startswith("make ")
    ]
    assert commands[:2] == [["make", "run"], ["make", "test"]]
