#!/usr/bin/env python
"""The explain report's size and build time on the demo truth VCF (509 ALTs, 100 cards).

One `explain_to_file` run of the demo VCF with the demo model, SAE and atlas writing the table and
the report (`--report-limit` 100, the default), on CPU. Reported: the whole run's wall time, the
time spent building the report at the end of the run (`ReportSink.close`: the cards' in-silico
mutagenesis, where there is one, and `write_report`), the report's size, and its size per 100 cards.
Target (issue): at most 2 MB per 100 cards. Runs on any version that has `ReportSink` (so the same
script measured the report before and after it became vector graphics).

    .venv/bin/python benchmarks/report_size.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from genomix.paths import demo_dir, demo_variants
from genomix.pipelines import explain_to_file, load_explainer
from genomix.pipelines.drive import ReportSink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="Keep the report here (default: a scratch folder).")
    args = parser.parse_args()
    explainer = load_explainer(demo_dir() / "genome.fa.gz", "demo")
    building = []
    close = ReportSink.close

    def timed(*a, **k):
        start = time.perf_counter()
        try:
            return close(*a, **k)
        finally:
            building.append(time.perf_counter() - start)

    ReportSink.close = timed
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.out or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        counts = explain_to_file(
            demo_variants(), explainer, out=folder / "demo.tsv", report=folder / "demo.report.html"
        )
        total = time.perf_counter() - start
        page = (folder / "demo.report.html").read_text()
        size = len(page.encode())
    cards = page.count("class='card'")
    result = {
        "alts": sum(counts.values()),
        "cards": cards,
        "report_bytes": size,
        "bytes_per_100_cards": round(size * 100 / max(cards, 1)),
        "report_build_s": round(sum(building), 2),
        "explain_with_report_s": round(total, 2),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
