"""Where the artefacts genomix ships live (found through the package, installed or not)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_dir() -> Path:
    """The shipped `data/` folder (installed as the `genomix.data` package)."""
    return Path(str(files("genomix.data")))


def demo_model_dir() -> Path:
    return data_dir() / "starter" / "model"
