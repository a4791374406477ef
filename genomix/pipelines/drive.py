"""The one driver every run writes its outputs through, and the provenance it writes.

A run streams the VCF in chunks of whole records; each output is a sink that writes its part of
every chunk (a table, the annotated VCF, the report's best cards, follow-up designs) under a partial
name, moved into place only when the run completes.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path

import pandas as pd

from genomix.hypotheses import Explainer
from genomix.io.outputs import AnnotatedVcfWriter, TableWriter, output_format, written_whole
from genomix.io.variants import open_vcf


def run_metadata(command: str | None = None, **fields) -> dict:
    """Provenance written into outputs: the genomix version, `fields` as `genomix_<name>` (those that
    are not None), and the command line when there is one."""
    import genomix

    meta = {"genomix_version": genomix.__version__}
    meta |= {f"genomix_{key}": value for key, value in fields.items() if value is not None}
    return meta | ({"genomix_command": command} if command else {})


def table_provenance(meta: dict, identity: dict, model) -> dict:
    """What a Parquet table records of its run: the VCF's provenance lines (`meta`), the model's
    fingerprint, and the run's identity (input and genome checksums, model, options, version) as JSON."""
    from genomix.sae.base import model_fingerprint

    provenance = {"genomix_model_fingerprint": model_fingerprint(model)}
    return meta | provenance | {"genomix_run": json.dumps(identity, sort_keys=True)}


def method_values(items: list) -> tuple:
    """INFO/GMX_METHOD of one record: each ALT's method, None (written `.`) where it was skipped."""
    return tuple(item.method if item.status == "ok" else None for item in items)


class TableSink:
    """A TSV or Parquet table: `frame(results)` per chunk, `empty` gives the columns of an empty run;
    `meta` is written into a Parquet file's key-value metadata."""

    def __init__(
        self,
        path: Path | None,
        frame: Callable[[list], pd.DataFrame],
        empty: pd.DataFrame,
        format: str | None = None,
        meta: dict | None = None,
    ):
        self.path, self.frame, self.empty, self.format, self.meta = path, frame, empty, format, meta

    def open(self, partial, vcf) -> None:
        self.writer = TableWriter(partial, self.format or output_format(self.path), self.meta)

    def write(self, records, results) -> None:
        self.writer.write(self.frame(results))

    def close(self, counts) -> None:
        self.writer.close(empty=self.empty)


class VcfSink:
    """The input VCF with INFO fields added: `values(results of one record)` -> {tag: tuple}."""

    def __init__(self, path: Path | None, info: dict, meta: dict, values: Callable[[list], dict]):
        self.path, self.info, self.meta, self.values = path, info, meta, values

    def open(self, partial, vcf) -> None:
        with open_vcf(vcf) as template:
            self.writer = AnnotatedVcfWriter(
                "-" if partial is None else partial,
                template.header,
                self.info,
                self.meta,
                output_format("-" if self.path is None else self.path),
            )

    def write(self, records, results) -> None:
        by_record: dict[int, list] = {}
        for item in results:
            by_record.setdefault(item.variant.record, []).append(item)
        for index, record in records:
            self.writer.write(record, self.values(by_record[index]))

    def close(self, counts) -> None:
        self.writer.close()


def _keep_best(heap: list, limit: int, top, order: int, value) -> None:
    """Keep in `heap` the `limit` values whose top hypothesis has the smallest p (ties: the larger
    |statistic|, then input order)."""
    key = (-top.p_value, abs(top.statistic), -order, value)
    (heapq.heappush if len(heap) < limit else heapq.heappushpop)(heap, key)


def _best_first(heap: list) -> list:
    return [entry[3] for entry in sorted(heap, key=lambda e: (-e[0], -e[1], -e[2]))]


class ReportSink:
    """The HTML report: cards for the `limit` explained ALTs with the smallest top p-value (ties: the
    larger |statistic|, then input order), kept in a heap while the run explains (`add`; their tracks
    are drawn again when the report is written), and the table's top hypotheses of the run (`write`,
    with their q-values; up to `TABLE_LIMIT`). Closing runs the in-silico mutagenesis of the first
    `mutagenesis` cards (each costs 121 to 242 forward passes of a window)."""

    def __init__(self, path: Path, limit: int, explainer: Explainer, meta: dict, mutagenesis: int = 10):
        self.path, self.limit, self.explainer, self.meta = path, limit, explainer, meta
        self.mutagenesis = mutagenesis
        self.best: list = []  # heap of (-p, |statistic|, -order, Explained)
        self.rows: list = []  # heap of (-p, |statistic|, -order, Hypothesis)
        self.order = self.row_order = 0

    def open(self, partial, vcf) -> None:
        self.partial = partial

    def write(self, records, results) -> None:
        from genomix.report.html import TABLE_LIMIT

        for item in results:
            if item.top is not None:
                _keep_best(self.rows, TABLE_LIMIT, item.top, self.row_order, item.top)
                self.row_order += 1

    def cards(self) -> list:
        """The ALTs of the report, best first."""
        return _best_first(self.best)

    def add(self, results) -> None:
        for item in results:
            if item.top is not None:
                _keep_best(self.best, self.limit, item.top, self.order, item)
                self.order += 1

    def close(self, counts) -> None:
        from genomix.mutagenesis import saturation_mutagenesis
        from genomix.report.html import write_report

        cards, model = self.cards(), self.explainer.model
        self._tracks(cards)
        readable = model.kind == "clm" or getattr(model, "mask_token_id", None) is not None
        # explain's passes take batch_size ref and alt windows at once: as many sequences per pass here
        batch, first = 2 * self.explainer.options.batch_size, cards[: self.mutagenesis if readable else 0]
        ism = saturation_mutagenesis(model, [c.window for c in first], batch_size=batch) if first else []
        ism += [None] * (len(cards) - len(ism))
        write_report(
            self.partial,
            cards,
            counts,
            self.explainer.atlas,
            self.explainer.evidence.motifs,
            self.meta,
            _best_first(self.rows),
            ism,
        )

    def _tracks(self, cards: list) -> None:
        """The activation tracks of each card's lead features, computed again for the cards alone (a
        run's shards keep hypotheses and windows, not tracks)."""
        from genomix.hypotheses.decompose import base_tracks, run_passes

        explainer, options = self.explainer, self.explainer.options
        for reverse in (False, True):  # SpliceAI's cards read on the reverse strand are read so again
            read = [card for card in cards if card.reverse == reverse]
            if not read:
                continue
            with explainer.model.reading_reverse() if reverse else nullcontext():
                windows = [card.window for card in read]
                passes = run_passes(explainer.model, explainer.sae, windows, options.batch_size, options.radius)
            for card, p in zip(read, passes):
                leads = [h.feature for h in card.hypotheses]
                ref, alt = base_tracks(explainer.sae, p, leads)
                card.tracks = {f: (ref[k], alt[k]) for k, f in enumerate(leads)}


def write_outputs(vcf, chunks: Iterable[tuple[list, list]], sinks: list) -> dict[str, int]:
    """Run `chunks` ((records, results) in input order; a result has a `status`) into every sink, each
    written under a partial name and moved to its path only when all are complete. Returns the counts
    of ALTs by status."""
    counts: Counter = Counter()
    with written_whole([sink.path for sink in sinks]) as partials:
        for sink, partial in zip(sinks, partials):
            sink.open(partial, vcf)
        for records, results in chunks:
            for sink in sinks:
                sink.write(records, results)
            counts.update(item.status for item in results)
        for sink in sinks:
            sink.close(dict(counts))
    return dict(counts)
