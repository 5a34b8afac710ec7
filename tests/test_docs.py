"""The README as a newcomer reads it (short, its Python snippets run as pasted, its links lead
somewhere), and the one command that measures again what docs/ quotes."""

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


REGENERATE = ROOT / "scripts" / "regenerate_docs.sh"
DOCS_FILES = ["accuracy_cpu.json", "benchmark_cpu.csv", "benchmark_cpu.png", "benchmark_cpu_2t.csv",
              "benchmark_cpu_2t_correct.csv", "per_call_cpu.csv", "non_dense_cpu.csv",
              "decision_boundary.png", "derivative.png", "vanishing_gradients.png"]


def test_regenerate_docs_help_and_bad_option():
    result = subprocess.run(["bash", str(REGENERATE), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--quick" in result.stdout, result.stderr
    result = subprocess.run(["bash", str(REGENERATE), "--fast"], capture_output=True, text=True)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.slow
def test_regenerate_docs_quick_writes_every_file(tmp_path):
    # Each tool's short form, into a temporary folder: the commands work as the script runs them.
    result = subprocess.run(["bash", str(REGENERATE), "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(DOCS_FILES)
