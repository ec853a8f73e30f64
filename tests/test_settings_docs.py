"""Settings, commands and docs agree (datasette's test_docs in spirit)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.__main__ import cli
from bot.settings import SETTINGS, Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_readme_and_env_example():
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for spec in SETTINGS:
        assert spec.env in README, spec.env
        assert spec.env in example, spec.env
        assert spec.env.startswith("BOT_") and spec.help


def test_a_bad_value_stops_start_up_naming_the_variable():
    with pytest.raises(SettingsError, match="BOT_MAX_MESSAGE_CHARS"):
        Settings.from_env({"BOT_MAX_MESSAGE_CHARS": "lots"})
    with pytest.raises(SettingsError, match="BOT_MAX_MESSAGE_CHARS"):
        Settings.from_env({"BOT_MAX_MESSAGE_CHARS": "0"})


def test_each_setting_is_one_field_named_after_its_variable():
    assert [spec.field for spec in SETTINGS] == [f.name for f in fields(Settings)]
    assert all(spec.env == "BOT_" + spec.field.upper() for spec in SETTINGS)


def test_secrets_have_no_default():
    assert Settings.from_env({}).rasa_token is None
    assert all(spec.default is None for spec in SETTINGS if spec.secret)


def commands(group, prefix=()):
    for name, command in group.commands.items():
        path = (*prefix, name)
        if hasattr(command, "commands"):
            yield from commands(command, path)
        else:
            yield path, command


@pytest.mark.parametrize(("path", "command"), list(commands(cli)), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help_with_an_example_and_is_in_the_readme(path, command):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example: python -m bot " + " ".join(path) in result.output
    assert "python -m bot " + " ".join(path) in README
