"""Settings, commands and docs agree (datasette's and sqlite-utils' test_docs in spirit)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import docs_reference
from bot.__main__ import cli
from bot.settings import SETTINGS, Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"


@pytest.mark.parametrize("reference", docs_reference.references(ROOT), ids=lambda ref: ref.path.name)
def test_generated_references_match_the_code(reference):
    committed = reference.path.read_text(encoding="utf-8") if reference.path.exists() else ""
    assert committed == reference.text, f"{reference.path.relative_to(ROOT)} is stale: run `make docs`"


def test_every_setting_is_in_the_settings_reference_and_env_example():
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    reference = (DOCS / "settings.md").read_text(encoding="utf-8")
    for spec in SETTINGS:
        assert f"`{spec.env}`" in reference, spec.env
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


@pytest.mark.parametrize(
    ("path", "command"), list(commands(cli)), ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_every_command_has_help_with_an_example_and_is_in_the_cli_reference(path, command):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example: python -m bot " + " ".join(path) in result.output
    assert "## python -m bot " + " ".join(path) + "\n" in (DOCS / "cli.md").read_text(encoding="utf-8")


def test_the_readme_is_a_way_in_that_links_every_docs_page():
    readme = README.read_text(encoding="utf-8")
    assert readme.startswith("# ") and "make run" in readme[:400], "the README starts with `make run`"
    assert len(readme.encode("utf-8")) < 10_000, "README.md is the way in: move reference text to docs/"
    for page in sorted(DOCS.glob("*.md")):
        assert f"(docs/{page.name})" in readme, f"README's Documentation list misses docs/{page.name}"


# Paths in backticks or links that name a file of the repository; patterns (<area>, *, {a,b}) are skipped.
NAMED_PATH = re.compile(r"[`(](?:\.\./)?((?:bot|actions|tests|data|knowledge|deploy|bench|docs)/[\w./-]*[\w/])[`)#:]")


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_files_the_docs_name_exist(page):
    missing = sorted(
        {
            path
            for path in NAMED_PATH.findall(page.read_text(encoding="utf-8"))
            if not (ROOT / path).exists() and not (page.parent / path).exists()
        }
    )
    assert not missing, f"{page.name} names files that are not in the repository: {missing}"


NAMED_OBJECT = re.compile(r"`((?:bot|actions)(?:\.\w+)+)`")


def defined_in(dotted: str) -> bool:
    """``bot.ops.stores.MaskingSQLTrackerStore``: a module, or a name a module defines at its top level."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        module = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
        if module.exists():
            rest = parts[cut:]
            return not rest or (
                len(rest) == 1
                and re.search(
                    rf"^(?:class|def|async def) {rest[0]}\b|^{rest[0]}\b[^=\n]*=",
                    module.read_text(encoding="utf-8"),
                    re.M,
                )
                is not None
            )
    return False


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_modules_and_classes_the_docs_name_exist(page):
    missing = sorted({name for name in NAMED_OBJECT.findall(page.read_text(encoding="utf-8")) if not defined_in(name)})
    assert not missing, f"{page.name} names modules or classes that are not in the code: {missing}"
