"""The explain report: one self-contained HTML file (no network: styles, script and figures inline).

Summary plots (score against -log10 q; top hypotheses by TF family and effect), a table of the top
hypothesis of every ALT (up to TABLE_LIMIT, smallest p first) that sorts by any column, filters by TF,
effect and q, and searches any text, and a card per reported ALT: its sentences, the activation
tracks of its hypotheses' lead features along the window (ref vs alt), the model's own view of the
site (in-silico mutagenesis importance logos of ref and alt, see `genomix.mutagenesis`), and each
lead feature's seqlet logo beside the JASPAR matrix that names it. Figures are inline SVG; a logo
drawn on several cards is defined once. Every string from the input (IDs, alleles, contig names,
labels, genes) is escaped.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import numpy as np

from genomix.hypotheses.records import SIGNIFICANT_Q
from genomix.report import svg

TRACK_FLANK = 60
TABLE_LIMIT = 10_000
EFFECT_COLOURS = {"loss": "#c33", "gain": "#33c"}
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:90em}
table{border-collapse:collapse;font-size:.85em}th,td{padding:.15em .6em;border-bottom:1px solid #eee;text-align:left}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}th[data-dir=asc]:after{content:' ▲'}
th[data-dir=desc]:after{content:' ▼'}.scroll{max-height:32em;overflow:auto;border:1px solid #ddd}
.card{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:.8em 0}
.card summary{cursor:pointer;font-weight:600}
.row{display:flex;gap:1.2em;flex-wrap:wrap;align-items:flex-start}.sentence{margin:.4em 0;font-size:.95em}
.meta{font-size:.8em;color:#555}.loss{color:#b22}.gain{color:#227}.controls{margin:.6em 0;display:flex;gap:1em}
.fig{display:block}figure{margin:0}figcaption{font-size:.75em;color:#555}"""
_SCRIPT = (
    """const table=document.getElementById('hypotheses'),body=table.tBodies[0],rows=[...body.rows];
const control=id=>document.getElementById(id);
function filter(){const text=control('search').value.toLowerCase(),tf=control('tf').value,
effect=control('effect').value,significant=control('significant').checked;let shown=0;
for(const r of rows){const keep=(!text||r.textContent.toLowerCase().includes(text))&&(!tf||r.dataset.tf===tf)
&&(!effect||r.dataset.effect===effect)&&(!significant||Number(r.dataset.q)<SIGNIFICANT_Q);r.hidden=!keep;shown+=keep;}
control('shown').textContent=shown;}
for(const id of ['search','tf','effect','significant'])for(const e of ['input','change'])
control(id).addEventListener(e,filter);
[...table.tHead.rows[0].cells].forEach((th,i)=>th.addEventListener('click',()=>{
const dir=th.dataset.dir==='asc'?-1:1,numeric='num' in th.dataset;
for(const other of table.tHead.rows[0].cells)delete other.dataset.dir;th.dataset.dir=dir>0?'asc':'desc';
const key=r=>{const c=r.cells[i],v=c.dataset.v??c.textContent;return numeric?(v===''?NaN:Number(v)):v.toLowerCase();};
rows.sort((a,b)=>{const x=key(a),y=key(b);if(numeric&&(isNaN(x)||isNaN(y)))return isNaN(x)-isNaN(y);
return (x<y?-1:x>y?1:0)*dir;});for(const r of rows)body.appendChild(r);}));
for(const a of document.querySelectorAll('a.open'))a.addEventListener('click',()=>{
const card=document.getElementById(a.getAttribute('href').slice(1));if(card)card.open=true;});
filter();"""
).replace("SIGNIFICANT_Q", str(SIGNIFICANT_Q))
_COLUMNS = [  # header, numeric
    ("variant", False),
    ("id", False),
    ("gene", False),
    ("region", False),
    ("TF", False),
    ("family", False),
    ("hypothesis", False),
    ("effect", False),
    ("score", True),
    ("statistic", True),
    ("share", True),
    ("error share", True),
    ("p", True),
    ("q", True),
]


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    return f"{value:.{digits}g}" if isinstance(value, float) else html.escape(str(value))


def _cell(value) -> str:
    """A numeric cell: its exact value for sorting, 3 digits shown."""
    exact = "" if value is None or (isinstance(value, float) and math.isnan(value)) else repr(float(value))
    return f"<td data-v='{exact}'>{_number(value)}</td>"


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _summary_plots(rows: list) -> str:
    points = [
        (
            h.score,
            -math.log10(max(h.q_value, 1e-300)),
            EFFECT_COLOURS.get(h.effect, "#888"),
            f"{h.chrom}:{h.pos} {h.ref}>{h.alt} {h.label} {h.effect} q={h.q_value:.2g}",
        )
        for h in rows
        if math.isfinite(h.score) and not math.isnan(h.q_value)
    ]
    scatter = svg.scatter(points, f"score ({rows[0].method if rows else ''})", "-log10 q", "score against -log10 q")
    families: dict[str, dict[str, int]] = {}
    for h in rows:
        name = h.tf_family if h.tf_family != "." else h.label
        families.setdefault(name, {}).setdefault(h.effect, 0)
        families[name][h.effect] += 1
    ranked = sorted(families.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:20]
    bars = svg.stacked_bars(ranked, EFFECT_COLOURS, "top hypotheses by TF family (or label) and effect")
    return (
        "<div class='row'><figure>" + scatter + "<figcaption>Top hypothesis per ALT: its score against -log10 q "
        f"(dashed: q = {SIGNIFICANT_Q}).</figcaption></figure><figure>" + bars + "<figcaption>Top hypotheses by "
        f"JASPAR family (annotation label without one) and effect; the {len(ranked)} most frequent.</figcaption>"
        "</figure></div>"
    )


def _table(rows: list, carded: dict[tuple, int], total: int) -> str:
    esc = html.escape
    tfs = sorted({h.tf_name for h in rows if h.tf_name != "."})
    options = "".join(f"<option value='{esc(tf)}'>{esc(tf)}</option>" for tf in tfs)
    parts = [
        f"<h2>Top hypothesis per ALT</h2><p class='meta'>{len(rows)} of the {total} ALTs with a hypothesis"
        f"{' (those with the smallest p)' if len(rows) < total else ''}; click a header to sort, a variant to open "
        "its card.</p><div class='controls'><input id='search' type='search' placeholder='search any text'>"
        f"<select id='tf'><option value=''>every TF</option>{options}</select><select id='effect'>"
        "<option value=''>loss and gain</option><option value='loss'>loss</option><option value='gain'>gain</option>"
        f"</select><label><input id='significant' type='checkbox'> q &lt; {SIGNIFICANT_Q}</label>"
        "<span class='meta'><span id='shown'></span> shown</span></div><div class='scroll'><table id='hypotheses'>"
        "<thead><tr>"
        + "".join(f"<th{' data-num' if numeric else ''}>{name}</th>" for name, numeric in _COLUMNS)
        + "</tr></thead><tbody>"
    ]
    for h in rows:
        variant = f"{esc(str(h.chrom))}:{h.pos} {esc(h.ref)}&gt;{esc(h.alt)}"
        card = carded.get((h.chrom, h.pos, h.ref, h.alt, h.id))
        if card is not None:
            variant = f"<a class='open' href='#v{card}'>{variant}</a>"
        parts.append(
            f"<tr data-tf='{esc(h.tf_name)}' data-effect='{esc(h.effect)}' data-q='{h.q_value!r}'>"
            f"<td>{variant}</td><td>{esc(str(h.id))}</td><td>{esc(h.genes.gene)}</td><td>{esc(h.genes.region)}</td>"
            f"<td>{esc(h.tf_name)}</td><td>{esc(h.tf_family)}</td><td>{esc(h.label)}</td>"
            f"<td class='{esc(h.effect)}'>{esc(h.effect)}</td>"
            + "".join(_cell(v) for v in (h.score, h.statistic, h.effect_share, h.error_share, h.p_value, h.q_value))
            + "</tr>"
        )
    parts.append("</tbody></table></div>")
    return "".join(parts)


def _tracks(item) -> str:
    rows = [row for row in item.hypotheses if row.rank > 0]
    centre = item.window.ref_span[0]
    lo, hi = centre - TRACK_FLANK, centre + TRACK_FLANK + 1
    panels = []
    for row in rows:
        ref, alt = item.tracks[row.feature]
        padded = [
            np.pad(np.asarray(t, dtype=float), TRACK_FLANK)[lo + TRACK_FLANK : hi + TRACK_FLANK] for t in (ref, alt)
        ]
        panels.append((f"#{row.rank} {row.label} f{row.feature}", *padded, EFFECT_COLOURS.get(row.effect, "#33c")))
    return (
        "<figure>"
        + svg.tracks(panels, TRACK_FLANK, "activation tracks: ref grey, alt coloured")
        + f"<figcaption>Lead features along ±{TRACK_FLANK} bp (ref grey, alt coloured).</figcaption></figure>"
    )


def _mutagenesis(ism) -> str:
    figures = []
    for allele in ("ref", "alt"):
        positions = getattr(ism, f"{allele}_positions")
        importance = ism.importance(allele)
        centre = int(np.argmax(np.isnan(importance))) if np.isnan(importance).any() else len(positions) // 2
        figures.append(
            svg.importance_logo(getattr(ism, f"{allele}_seq"), importance, centre, f"model's view, {allele} (ISM)")
        )
    return (
        "<figure><div class='row'>" + "".join(figures) + "</div><figcaption>In-silico mutagenesis: how much each "
        "base supports the model's reading of the allele (up: supports, down: opposes; the allele underlined)."
        "</figcaption></figure>"
    )


def report_html(
    explained: list,
    counts: dict,
    atlas,
    motifs: dict,
    meta: dict,
    table: list | None = None,
    mutagenesis: list | None = None,
) -> str:
    """The page: `explained` are the ALTs that get a card (best first), `counts` the ALTs of the whole
    run by status, `motifs` JASPAR Motif objects by id, `meta` provenance lines, `table` the top
    Hypothesis of each ALT for the table (default: the cards'), `mutagenesis` the cards' ISM (one
    `Mutagenesis` per card, or None)."""
    esc = html.escape
    atlas_rows = atlas.table.set_index("feature")
    table = table if table is not None else [item.hypotheses[0] for item in explained if item.top is not None]
    symbols: dict[str, tuple[str, float, float]] = {}  # a logo drawn on several cards is defined once
    total = sum(counts.values())
    carded = {
        (item.variant.chrom, item.variant.vcf_pos, item.variant.ref, item.variant.alt, item.variant.id): n
        for n, item in enumerate(explained)
    }
    with_hypothesis = counts.get("ok", 0)
    cards = []
    for number, item in enumerate(explained):
        v, top = item.scored.variant, item.hypotheses[0]
        place = " ".join(part for part in (top.genes.gene, top.genes.region) if part != ".")
        cards.append(
            f"<details class='card' id='v{number}'><summary>{esc(v.chrom)}:{v.vcf_pos} {esc(v.ref)}&gt;{esc(v.alt)} "
            f"<span class='meta'>{esc(v.id)} · {esc(place)} · {esc(top.label)} {esc(top.effect)} · "
            f"score {_number(item.scored.score)} ({esc(item.scored.method)}) · p {_number(top.p_value)} · "
            f"q {_number(top.q_value)}</span></summary>"
        )
        for row in item.hypotheses:
            cards.append(f"<p class='sentence'><b>#{row.rank}</b> {esc(row.hypothesis)}</p>")
        cards.append("<div class='row'>" + _tracks(item))
        if mutagenesis is not None and mutagenesis[number] is not None:
            cards.append(_mutagenesis(mutagenesis[number]))
        cards.append("</div>")
        for row in item.hypotheses:
            shown = []
            feature = atlas_rows.loc[row.feature]
            if feature.ppm is not None:
                shown.append(
                    _logo(
                        symbols,
                        f"f{row.feature}",
                        np.array([list(c) for c in feature.ppm]),
                        f"feature {row.feature} seqlets",
                    )
                )
            motif = motifs.get(row.motif_id)
            if motif is not None:
                shown.append(_logo(symbols, f"m{motif.matrix_id}", motif.ppm, f"{motif.tf_name} {motif.matrix_id}"))
            evidence = (
                f"delta {_number(row.delta)} at {row.offset:+d} bp · motif_delta {_number(row.motif_delta)}"
                f" · share {_number(row.effect_share)} · error share {_number(row.error_share)}"
                f" · mediated {_number(row.mediated_fraction)} · p {_number(row.p_value)} · q {_number(row.q_value)}"
                f" · score p {_number(row.score_p)} · members {esc(str(row.members))}"
            )
            cards.append(
                f"<div><div class='meta'>#{row.rank} {esc(str(row.label))}: {evidence}</div>"
                f"<div class='row'>{''.join(shown)}</div></div>"
            )
        cards.append("</details>")
    defs = "".join(symbol for symbol, _, _ in symbols.values())
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>genomix explain report</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<svg width='0' height='0' style='position:absolute' aria-hidden='true'><defs>{defs}</defs></svg>"
        "<h1>genomix: variant hypotheses</h1>",
        f"<p>{total} ALTs explained: {with_hypothesis} with a hypothesis"
        + "".join(f"; {esc(str(k))}: {v}" for k, v in sorted(counts.items()) if k != "ok")
        + f". Cards follow for the {len(explained)} with the smallest p-values.</p>",
        "<p class='meta'>" + "; ".join(f"{esc(str(k))}: {esc(str(v))}" for k, v in meta.items()) + "</p>",
        _summary_plots(table),
        _table(table, carded, with_hypothesis),
        f"<h2>Cards ({len(explained)})</h2>",
        *cards,
        f"<script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts)


def _logo(symbols: dict, key: str, ppm: np.ndarray, title: str) -> str:
    symbol_id = "logo-" + _safe_id(key)
    if symbol_id not in symbols:
        symbols[symbol_id] = svg.logo_symbol(symbol_id, ppm, title)
    _, width, height = symbols[symbol_id]
    return svg.use_symbol(symbol_id, width, height, title)


def write_report(
    path: str | Path,
    explained: list,
    counts: dict,
    atlas,
    motifs: dict,
    meta: dict,
    table: list | None = None,
    mutagenesis: list | None = None,
) -> Path:
    path = Path(path)
    path.write_text(report_html(explained, counts, atlas, motifs, meta, table, mutagenesis), encoding="utf-8")
    return path
