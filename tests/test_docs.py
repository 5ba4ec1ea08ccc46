"""Docs are tested: every command has help text and a page in docs/, and the changelog is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from libra_cli.cli.app import app
from scanhelp import cli

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"


def commands() -> list[tuple[str, ...]]:
    """Every leaf command as a path of names, e.g. ("hashlist", "build")."""
    group = typer.main.get_command(app)
    out: list[tuple[str, ...]] = []

    def visit(cmd: object, path: tuple[str, ...]) -> None:
        subcommands = getattr(cmd, "commands", None)  # a group (typer vendors its own click)
        if subcommands:
            for name, sub in subcommands.items():
                visit(sub, (*path, name))
        else:
            out.append(path)

    visit(group, ())
    return out


def test_commands_found() -> None:
    names = commands()
    assert ("scan",) in names and ("hash",) in names and ("hashlist", "build") in names


@pytest.mark.parametrize("path", commands(), ids=lambda p: " ".join(p))
def test_every_command_has_help_and_a_docs_page(path: tuple[str, ...]) -> None:
    code, out, _ = cli(*path, "--help")
    assert code == 0 and "Usage" in out
    page = DOCS / "commands" / f"{path[0]}.md"
    assert page.is_file(), f"docs/commands/{path[0]}.md is missing"
    assert f"libra {' '.join(path)}" in page.read_text(), f"{page.name} does not document `libra {' '.join(path)}`"


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = [b.split("```")[0].strip() for b in text.split("```sh\n")[1:3]]
    assert blocks[0].startswith("python -m pip install . && libra scan examples/sample")
    assert blocks[1] == "python -m pip install -e '.[test]' && python -m pytest"
    assert blocks[1] in (ROOT / ".ci" / "run").read_text()  # CI runs exactly the README's test command


def test_changelog_opens_with_unreleased() -> None:
    lines = [x for x in (ROOT / "CHANGELOG.md").read_text().splitlines() if x.startswith("## ")]
    assert lines[0] == "## Unreleased"


def test_docs_links_resolve() -> None:
    import re

    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+\.md)\)", page.read_text()):
            if "://" not in target:
                assert (page.parent / target).is_file(), f"{page.relative_to(ROOT)} links to missing {target}"
