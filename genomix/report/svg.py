"""Compact inline SVG figures for the report: sequence logos (information or signed importance),
activation tracks, a scatter plot and stacked bars. Coordinates are rounded to 0.1 px; letters are
drawn as scaled text, so a logo is a few hundred bytes instead of a PNG's kilobytes."""

from __future__ import annotations

import html
import math

import numpy as np

from genomix.sequence import ALPHABET

BASE_COLOURS = {"A": "#194", "C": "#25a", "G": "#fb2", "T": "#d23"}
MIN_LETTER = 1.0  # px: smaller letters are not drawn
# A bold monospace capital at font-size 10 is about 7.3 px tall and 6 px wide: letters are scaled from it.
_CAP, _ADVANCE = 7.3, 6.0


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _letter(base: str, x: float, bottom: float, width: float, height: float) -> str:
    """A letter whose glyph fills [x, x + width] horizontally and ends at `bottom` (y grows downwards);
    a negative `height` draws it upside down below `bottom`."""
    sx, sy = width / _ADVANCE, height / _CAP
    return (
        f"<text transform='matrix({sx:.2f} 0 0 {sy:.2f} {_n(x)} {_n(bottom)})' "
        f"fill='{BASE_COLOURS.get(base, '#888')}'>{base}</text>"
    )


_LETTERS = "font-family='monospace' font-weight='bold' font-size='10'"
_WORDS = "font-family='sans-serif' font-size='9'"


def _frame(width: float, height: float, body: str, title: str = "", font: str = _LETTERS) -> str:
    label = f"<title>{html.escape(title)}</title>" if title else ""
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='fig' width='{_n(width)}' height='{_n(height)}' "
        f"viewBox='0 0 {_n(width)} {_n(height)}' {font}>{label}{body}</svg>"
    )


def information_logo(ppm: np.ndarray, title: str, column: float = 9.0, height: float = 36.0) -> str:
    """The body of an information-content logo of a `[length, 4]` PPM (bits, 2 at the top): letters
    stacked by height, the tallest on top; returns (width, height, body) ready for `_frame`/a symbol."""
    ppm = np.asarray(ppm, dtype=float)
    ppm = ppm / np.maximum(ppm.sum(axis=1, keepdims=True), 1e-12)
    bits = 2 + np.sum(np.where(ppm > 0, ppm * np.log2(np.maximum(ppm, 1e-12)), 0.0), axis=1)
    parts = []
    for i, (row, information) in enumerate(zip(ppm, bits)):
        bottom = height
        for b in np.argsort(row):
            h = row[b] * information * height / 2
            if h >= MIN_LETTER:
                parts.append(_letter(ALPHABET[b], i * column, bottom, column, h))
                bottom -= h
    parts.append(f"<text x='1' y='8' font-size='7' font-weight='normal' fill='#555'>{html.escape(title)}</text>")
    return len(ppm) * column, height, "".join(parts)


def logo_symbol(symbol_id: str, ppm: np.ndarray, title: str) -> tuple[str, float, float]:
    """A `<symbol>` of an information logo (defined once, drawn with `use_symbol`), its width and height."""
    width, height, body = information_logo(ppm, title)
    return f"<symbol id='{symbol_id}' viewBox='0 0 {_n(width)} {_n(height)}'>{body}</symbol>", width, height


def use_symbol(symbol_id: str, width: float, height: float, title: str) -> str:
    return _frame(width, height, f"<use href='#{symbol_id}'/>", title)


def importance_logo(bases: str, importance: np.ndarray, centre: int, title: str, column: float = 7.0) -> str:
    """A signed logo: each base present drawn as tall as its importance (up: it supports the readout,
    down: it opposes it), the allele's bases (NaN) underlined; `centre`: index of the allele's first
    base, marked."""
    half = 26.0
    values = np.nan_to_num(np.asarray(importance, dtype=float))
    scale = half / max(float(np.max(np.abs(values))), 1e-6)
    parts = [f"<line x1='0' x2='{_n(len(bases) * column)}' y1='{half}' y2='{half}' stroke='#bbb' stroke-width='0.5'/>"]
    for i, (base, value) in enumerate(zip(bases, importance)):
        if math.isnan(value):
            parts.append(f"<rect x='{_n(i * column)}' y='{half - 1}' width='{_n(column)}' height='2' fill='#555'/>")
        elif abs(value * scale) >= MIN_LETTER:
            parts.append(_letter(base, i * column, half, column, value * scale))
    x = centre * column
    parts.append(f"<text x='{_n(x)}' y='{2 * half + 9}' font-size='7' font-weight='normal' fill='#555'>0</text>")
    parts.append(f"<text x='1' y='8' font-size='7' font-weight='normal' fill='#555'>{html.escape(title)}</text>")
    return _frame(len(bases) * column, 2 * half + 10, "".join(parts), title)


def tracks(panels: list[tuple[str, np.ndarray, np.ndarray, str]], flank: int, title: str) -> str:
    """Activation tracks: per panel (label, ref, alt, alt colour) two polylines over the bp from
    -flank to +flank (ref grey), the variant marked by a dotted line."""
    step, height, gap = 2.0, 34.0, 12.0
    width = (2 * flank + 1) * step
    parts = []
    for k, (label, ref, alt, colour) in enumerate(panels):
        top = k * (height + gap) + gap
        ref, alt = np.nan_to_num(ref), np.nan_to_num(alt)  # a deleted base reads 0
        peak = max(float(np.max(np.abs(np.concatenate([ref, alt])))), 1e-6)
        for values, stroke in ((ref, "#777"), (alt, colour)):
            y = [round(top + height - v / peak * height) for v in values]
            kept = [i for i in range(len(y)) if i in (0, len(y) - 1) or not y[i - 1] == y[i] == y[i + 1]]
            points = " ".join(f"{_n(i * step)},{y[i]}" for i in kept)  # flat runs by their ends
            parts.append(f"<polyline points='{points}' fill='none' stroke='{stroke}' stroke-width='1.2'/>")
        parts.append(
            f"<text x='0' y='{_n(top - 2)}' font-size='8' font-weight='normal' fill='#333'>{html.escape(label)}"
            f" (max {peak:.2g})</text>"
        )
    x = flank * step
    total = len(panels) * (height + gap) + gap
    parts.append(f"<line x1='{x}' x2='{x}' y1='{gap}' y2='{_n(total)}' stroke='#aaa' stroke-dasharray='2,2'/>")
    return _frame(width, total + 2, "".join(parts), title)


def scatter(points: list[tuple[float, float, str, str]], x_label: str, y_label: str, title: str) -> str:
    """A scatter plot of (x, y, colour, tooltip) with axes and labels."""
    width, height, left, bottom = 360.0, 220.0, 40.0, 30.0
    xs = [p[0] for p in points] or [0.0]
    ys = [p[1] for p in points] or [0.0]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = 0.0, max(max(ys), 1.0)
    fx = lambda x: left + (x - x0) / (x1 - x0) * (width - left - 10)  # noqa: E731
    fy = lambda y: height - bottom - (y - y0) / (y1 - y0) * (height - bottom - 10)  # noqa: E731
    parts = [
        f"<line x1='{left}' x2='{width - 5}' y1='{height - bottom}' y2='{height - bottom}' stroke='#333'/>",
        f"<line x1='{left}' x2='{left}' y1='5' y2='{height - bottom}' stroke='#333'/>",
    ]
    for x, y, colour, tip in points:
        parts.append(
            f"<circle cx='{_n(fx(x))}' cy='{_n(fy(y))}' r='2.5' fill='{colour}' fill-opacity='.7'>"
            f"<title>{html.escape(tip)}</title></circle>"
        )
    for value, anchor in ((x0, "start"), (x1, "end")):
        parts.append(f"<text x='{_n(fx(value))}' y='{height - bottom + 11}' text-anchor='{anchor}'>{value:.3g}</text>")
    parts.append(f"<text x='{left - 3}' y='{_n(fy(y1) + 4)}' text-anchor='end'>{y1:.3g}</text>")
    parts.append(f"<text x='{left - 3}' y='{_n(fy(0))}' text-anchor='end'>0</text>")
    if y1 > -math.log10(0.05) > y0:  # the 5 % FDR line
        y = _n(fy(-math.log10(0.05)))
        parts.append(f"<line x1='{left}' x2='{width - 5}' y1='{y}' y2='{y}' stroke='#c33' stroke-dasharray='3,3'/>")
    parts.append(f"<text x='{_n(width / 2)}' y='{height - 4}' text-anchor='middle'>{html.escape(x_label)}</text>")
    parts.append(
        f"<text transform='translate(11,{_n(height / 2)}) rotate(-90)' text-anchor='middle'>"
        f"{html.escape(y_label)}</text>"
    )
    return _frame(width, height, "".join(parts), title, _WORDS)


def stacked_bars(rows: list[tuple[str, dict[str, int]]], colours: dict[str, str], title: str) -> str:
    """Horizontal bars, one per (label, {part: count}), parts stacked in `colours`' order, with a legend."""
    bar, label_width, width = 13.0, 170.0, 420.0
    most = max([sum(parts.values()) for _, parts in rows] or [1])
    scale = (width - label_width - 40) / most
    out = []
    for k, (label, parts) in enumerate(rows):
        y = 18 + k * (bar + 3)
        out.append(
            f"<text x='{label_width - 4}' y='{_n(y + bar - 3)}' text-anchor='end'>{html.escape(label[:32])}</text>"
        )
        x = label_width
        for part, colour in colours.items():
            count = parts.get(part, 0)
            if count:
                out.append(
                    f"<rect x='{_n(x)}' y='{_n(y)}' width='{_n(count * scale)}' height='{bar}' fill='{colour}'>"
                    f"<title>{html.escape(label)}: {count} {part}</title></rect>"
                )
                x += count * scale
        out.append(f"<text x='{_n(x + 3)}' y='{_n(y + bar - 3)}'>{sum(parts.values())}</text>")
    legend = "".join(
        f"<rect x='{label_width + 70 * i}' y='2' width='9' height='9' fill='{c}'/>"
        f"<text x='{label_width + 70 * i + 12}' y='10'>{html.escape(p)}</text>"
        for i, (p, c) in enumerate(colours.items())
    )
    height = 22 + len(rows) * (bar + 3)
    return _frame(width, height, legend + "".join(out), title, _WORDS)
