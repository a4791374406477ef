"""The atlas as one self-contained HTML page: a card per labelled feature, its seqlet logo beside the
logo of the JASPAR matrix it matched (logomaker, embedded as PNG), its statistics and top examples."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from genomix.features.atlas import FeatureAtlas
from genomix.io.outputs import written_whole
from genomix.sequence import ALPHABET

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
.card{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1em 0;display:flex;gap:2em;flex-wrap:wrap}
.card h2{margin:0 0 .3em 0;font-size:1.1em}.stats{min-width:22em}.logos{display:flex;gap:1em}
figure{margin:0}figcaption{font-size:.8em;color:#555}table{border-collapse:collapse}
td{padding:0 .8em 0 0;font-size:.9em}.examples{font-size:.8em;color:#444;max-width:40em}"""


def logo_img(ppm: np.ndarray, title: str) -> str:
    """An information-content logo of a `[length, 4]` PPM, as an inline PNG `<img>`."""
    import logomaker
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ppm = np.asarray(ppm, dtype=float)
    probabilities = pd.DataFrame(ppm / ppm.sum(axis=1, keepdims=True), columns=list(ALPHABET))
    bits = logomaker.transform_matrix(probabilities, from_type="probability", to_type="information")
    figure, axis = plt.subplots(figsize=(max(1.5, 0.25 * len(bits)), 1.4))
    logomaker.Logo(bits, ax=axis, color_scheme="classic")
    axis.set_ylim(0, 2)
    axis.set_yticks([0, 1, 2])
    axis.set_xticks([])
    axis.set_title(title, fontsize=8)
    for side in ("top", "right"):
        axis.spines[side].set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f"<img alt='{html.escape(title)}' src='data:image/png;base64,{encoded}'>"


def atlas_html(atlas: FeatureAtlas, motifs: dict | None = None, limit: int | None = None) -> str:
    """The page; `motifs` maps JASPAR ids to Motif objects for the matched logos (optional)."""
    table = atlas.table[atlas.table.label_kind != "unlabelled"]
    concept_of, names = {}, {}
    if atlas.concepts is not None:  # cards grouped by concept, the concept's own label first
        for row in atlas.concepts.itertuples(index=False):
            names[row.concept] = f"{row.name} ({row.size} features; {row.evidence})"
            concept_of.update({int(m): row.concept for m in row.members})
    table = table.assign(card_concept=[concept_of.get(f, -1) for f in table.feature])
    table = table.sort_values(["card_concept", "label_kind", "label", "feature"]).head(limit)
    counts = atlas.table.label_kind.value_counts()
    meta = ", ".join(f"{k}: {html.escape(str(v))}" for k, v in atlas.metadata.items())
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>genomix feature atlas</title>"
        f"<style>{_STYLE}</style></head><body><h1>Feature atlas</h1>"
        f"<p>{len(atlas.table)} features: {counts.get('motif', 0)} named by a motif, {counts.get('annotation', 0)} "
        f"by an annotation, {counts.get('unlabelled', 0)} unlabelled.</p><p class='examples'>{meta}</p>"
    ]
    shown = None
    for row in table.itertuples(index=False):
        if row.card_concept != shown and row.card_concept in names:
            parts.append(
                f"<h2 class='concept' id='c{row.card_concept}'>Concept {row.card_concept}: "
                f"{html.escape(names[row.card_concept])}</h2>"
            )
            shown = row.card_concept
        stats = [
            ("kind", row.label_kind),
            ("fires at", f"{row.frequency:.3%} of positions"),
            ("max activation", f"{row.max_activation:.3f}"),
        ]
        logos = []
        if row.ppm is not None:
            logos.append(
                f"<figure>{logo_img(np.array([list(c) for c in row.ppm]), f'feature {row.feature} seqlets')}"
                f"<figcaption>centre = the feature's peak</figcaption></figure>"
            )
        if isinstance(row.tf_name, str):
            stats.append(
                (
                    "best motif",
                    f"{row.tf_name} {row.motif_id} (p {row.tomtom_p:.1e}, q {row.tomtom_q:.1e}, "
                    f"strand {row.motif_strand})",
                )
            )
            if pd.notna(getattr(row, "motif_site_share", np.nan)):
                stats.append(
                    (
                        "its sites",
                        f"near {row.motif_site_share:.0%} of the top examples, "
                        f"{row.motif_site_background:.1%} of random positions",
                    )
                )
            if motifs and row.motif_id in motifs and row.label_kind == "motif":
                ppm = motifs[row.motif_id].ppm
                if row.motif_strand == "-":
                    ppm = ppm[::-1, ::-1]
                logos.append(
                    f"<figure>{logo_img(ppm, f'{row.tf_name} {row.motif_id}')}"
                    f"<figcaption>JASPAR, oriented as matched</figcaption></figure>"
                )
        if isinstance(row.annotation, str):
            stats.append(("best annotation", f"{row.annotation} (held-out F1 {row.annotation_f1:.3f})"))
        cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in stats)
        examples = ", ".join(html.escape(e) for e in list(row.top_examples)[:10])
        parts.append(
            f"<div class='card' id='f{row.feature}'><div class='stats'><h2>feature {row.feature}: "
            f"{html.escape(str(row.label))}</h2><table>{cells}</table><p class='examples'>top examples: "
            f"{examples}</p></div><div class='logos'>{''.join(logos)}</div></div>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_atlas_html(atlas: FeatureAtlas, path: str | Path, limit: int | None = None) -> Path:
    from genomix.motifs.jaspar import load_jaspar

    source = atlas.metadata.get("motif_source", "")
    motifs = {m.matrix_id: m for m in load_jaspar(source)} if str(source).startswith("JASPAR") else None
    path = Path(path)
    page = atlas_html(atlas, motifs, limit)
    with written_whole([path]) as (partial,):
        partial.write_text(page, encoding="utf-8")
    return path
