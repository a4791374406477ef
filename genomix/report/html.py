"""The explain report: one self-contained HTML file.

A summary table (the top hypothesis of each reported ALT), then a card per reported ALT: the activation
tracks of its hypotheses' lead features along the window (ref vs alt, on the reference's bases),
the lead feature's seqlet logo beside the JASPAR matrix it matched, the evidence numbers and the
sentence. Every string that comes from the input (IDs, alleles, contig names, labels) is escaped;
figures are inline PNGs.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np

from genomix.features.html import logo_img

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:80em}
table{border-collapse:collapse;font-size:.85em}th,td{padding:.15em .6em;border-bottom:1px solid #eee;text-align:left}
.card{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1.2em 0}.card h2{margin:0 0 .4em 0;font-size:1.05em}
.row{display:flex;gap:1.5em;flex-wrap:wrap;align-items:flex-start}.sentence{margin:.4em 0;font-size:.95em}
.meta{font-size:.8em;color:#555}.loss{color:#b22}.gain{color:#227}"""
TRACK_FLANK = 60


def _png(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return f"<img alt='activation tracks' src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'>"


def track_img(item) -> str:
    """Activation tracks of the lead features of one explained ALT, ±TRACK_FLANK bp around it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in item.hypotheses if row.rank > 0]
    figure, axes = plt.subplots(len(rows), 1, figsize=(7, 1.3 * len(rows)), squeeze=False, sharex=True)
    centre = item.window.ref_span[0]
    lo, hi = max(0, centre - TRACK_FLANK), min(len(item.window), centre + TRACK_FLANK + 1)
    x = np.arange(lo, hi) - centre
    for axis, row in zip(axes[:, 0], rows):
        ref, alt = item.tracks[row.feature]
        axis.plot(x, ref[lo:hi], color="#555", label="ref", lw=1.2)
        axis.plot(x, alt[lo:hi], color="#c33" if row.effect == "loss" else "#33c", label="alt", lw=1.2)
        axis.axvline(0, color="#aaa", lw=0.6, ls=":")
        axis.set_ylabel(f"f{row.feature}", fontsize=8)
        axis.set_title(f"#{row.rank} {row.label}", fontsize=8, loc="left")
        axis.tick_params(labelsize=7)
        for side in ("top", "right"):
            axis.spines[side].set_visible(False)
    axes[0, 0].legend(fontsize=7, frameon=False, loc="upper right")
    axes[-1, 0].set_xlabel("bp from the variant", fontsize=8)
    return _png(figure)


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    return f"{value:.{digits}g}" if isinstance(value, float) else html.escape(str(value))


def report_html(explained: list, counts: dict, atlas, motifs: dict, meta: dict) -> str:
    """The page: `explained` are the ALTs that get a card (best first), `counts` the ALTs of the whole
    run by status, `motifs` JASPAR Motif objects by id, `meta` provenance lines."""
    esc = html.escape
    atlas_rows = atlas.table.set_index("feature")
    logos: dict = {}  # features and matrices recur across cards: draw each logo once
    total = sum(counts.values())
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>genomix explain report</title>"
        f"<style>{_STYLE}</style></head><body><h1>genomix: variant hypotheses</h1>",
        f"<p>{total} ALTs explained: {counts.get('ok', 0)} with a hypothesis; "
        + ", ".join(f"{esc(str(k))}: {v}" for k, v in sorted(counts.items()) if k != "ok")
        + f". The {len(explained)} with the smallest p-values follow.</p>",
        "<p class='meta'>" + "; ".join(f"{esc(str(k))}: {esc(str(v))}" for k, v in meta.items()) + "</p>",
        "<h2>Summary (top hypothesis per ALT)</h2><table><tr>"
        + "".join(
            f"<th>{c}</th>"
            for c in (
                "variant",
                "id",
                "score",
                "hypothesis",
                "family",
                "effect",
                "statistic",
                "share",
                "error share",
                "mediated",
                "p",
                "q",
            )
        )
        + "</tr>",
    ]
    for number, item in enumerate(explained):
        row = item.hypotheses[0]
        parts.append(
            f"<tr><td><a href='#v{number}'>{esc(str(row.chrom))}:{row.pos} {esc(row.ref)}&gt;"
            f"{esc(row.alt)}</a></td><td>{esc(str(row.id))}</td><td>{_number(row.score)}</td>"
            f"<td>{esc(str(row.label))}</td><td>{esc(str(row.tf_family))}</td>"
            f"<td class='{esc(str(row.effect))}'>{esc(str(row.effect))}</td>"
            f"<td>{_number(row.statistic)}</td><td>{_number(row.effect_share)}</td>"
            f"<td>{_number(row.error_share)}</td><td>{_number(row.mediated_fraction)}</td>"
            f"<td>{_number(row.p_value)}</td><td>{_number(row.q_value)}</td></tr>"
        )
    parts.append("</table>")
    for number, item in enumerate(explained):
        v = item.scored.variant
        parts.append(
            f"<div class='card' id='v{number}'><h2>{esc(v.chrom)}:{v.vcf_pos} {esc(v.ref)}&gt;{esc(v.alt)} "
            f"<span class='meta'>{esc(v.id)} · score {_number(item.scored.score)} "
            f"({esc(item.scored.method)})</span></h2>"
        )
        for row in item.hypotheses:
            parts.append(f"<p class='sentence'><b>#{row.rank}</b> {esc(row.hypothesis)}</p>")
        parts.append(f"<div class='row'>{track_img(item)}<div>")
        for row in item.hypotheses:
            feature = atlas_rows.loc[row.feature]
            shown = []
            if feature.ppm is not None:
                if row.feature not in logos:
                    logos[row.feature] = logo_img(
                        np.array([list(c) for c in feature.ppm]), f"feature {row.feature} seqlets"
                    )
                shown.append(logos[row.feature])
            motif = motifs.get(row.motif_id)
            if motif is not None:
                if motif.matrix_id not in logos:
                    logos[motif.matrix_id] = logo_img(motif.ppm, f"{motif.tf_name} {motif.matrix_id}")
                shown.append(logos[motif.matrix_id])
            evidence = (
                f"delta {_number(row.delta)} at {row.offset:+d} bp · motif_delta {_number(row.motif_delta)}"
                f" · share {_number(row.effect_share)} · error share {_number(row.error_share)}"
                f" · mediated {_number(row.mediated_fraction)} · p {_number(row.p_value)} · q {_number(row.q_value)}"
                f" · score p {_number(row.score_p)} · members "
                f"{esc(str(row.members))}"
            )
            parts.append(
                f"<div><div class='meta'>#{row.rank} {esc(str(row.label))}: {evidence}</div>"
                f"<div class='row'>{''.join(shown)}</div></div>"
            )
        parts.append("</div></div></div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str | Path, explained: list, counts: dict, atlas, motifs: dict, meta: dict) -> Path:
    path = Path(path)
    path.write_text(report_html(explained, counts, atlas, motifs, meta), encoding="utf-8")
    return path
