"""The README as a newcomer reads it: short, its Python snippets run as pasted, its links lead
somewhere."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SNIPPETS = re.findall(r"^```python\n(.*?)^```", README, re.S | re.M)


def test_readme_is_short_enough_to_start_from():
    assert len(README.splitlines()) < 250


def test_quick_start_has_the_two_commands_ci_runs():
    section = re.search(r"^## Quick start\n(.*?)^## ", README, re.S | re.M).group(1)
    assert len(re.findall(r"^```bash\n", section, re.M)) == 2


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_python_snippet_runs_as_pasted(snippet, tmp_path):
    # A fresh interpreter in an empty folder, as a reader pasting it: whatever it needs, it
    # imports, and the files it writes land in that folder.
    result = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"{snippet}\n{result.stderr}"


def test_there_are_snippets_to_run():
    assert len(SNIPPETS) >= 3


def test_relative_links_lead_to_files():
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
    assert links
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing
