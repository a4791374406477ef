"""Figures written as files: the concept comparison of several SAEs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genomix.io.outputs import written_whole


def plot_concept_comparison(frame: pd.DataFrame, path: str | Path) -> Path:
    """A PNG of features per concept and entangled share, SAE by SAE (`frame`: rows of
    `genomix.features.measures.comparison_row`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{r.model} {r.layer}" for r in frame.itertuples()]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.bar(names, frame.features_per_concept, color="#4a7")
    left.set_ylabel("features per concept")
    right.bar(names, frame.entangled_fraction, color="#a47")
    right.set_ylabel("entangled share")
    for axis in (left, right):
        axis.tick_params(axis="x", labelrotation=30, labelsize=8)
    figure.tight_layout()
    path = Path(path)
    with written_whole([path]) as (partial,):  # the format from the final name: the partial's ends in .partial
        figure.savefig(partial, dpi=100, format=path.suffix.lstrip(".").lower() or "png")
    plt.close(figure)
    return path
