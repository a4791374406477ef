"""Every notebook in notebooks/ runs top to bottom (its code cells, in order, from its own folder)."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_notebook_runs(notebook, monkeypatch):
    monkeypatch.chdir(notebook.parent)
    namespace = {"__name__": "__main__"}
    for number, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{notebook.name}[cell {number}]", "exec"), namespace)


def test_there_are_notebooks():
    assert NOTEBOOKS
