#!/usr/bin/env python
"""Scores in bfloat16 and float16 against float32 (`--dtype`), on the trained demo model and on tiny random
models of each backend kind; the figures behind the tolerance README states.

Models, each scored with its default method and reverse-complement averaging:
- demo: the trained demo ConvNet (masked LM, llr for SNVs, embedding for indels) on the first 300 demo
  truth variants, window 1024 (its default);
- char-mlm, char-clm, kmer-mlm: the random-init models of tests/tiny_models.py (ESM characters, GPT-2
  characters with delta_ll, ESM 6-mers) on the starter VCF, window 120.
For each lower precision: the largest |score - float32 score|, the largest excess over the stated
tolerance (ABS + REL * |float32 score|; <= 0 means within it) and the Spearman correlation with float32.

Usage:
    .venv/bin/python benchmarks/precision.py          # about 5 minutes on an idle 2-core machine
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

TOLERANCE = {"bfloat16": (0.05, 0.02), "float16": (0.01, 0.005)}  # as in README and tests/test_precision.py


def scores(folder: str, genome, variants, window: int | None, dtype: str) -> np.ndarray:
    import genomix as gx
    from genomix.scoring import score_variants

    model = gx.load_model(folder, dtype=dtype, device="cpu")
    return np.array([s.score for s in score_variants(model, genome, variants, window=window)])


def main() -> int:
    import genomix as gx
    from genomix.paths import demo_dir, demo_variants
    from tiny_models import save_char_clm, save_char_mlm, save_kmer_mlm

    tmp = Path(tempfile.mkdtemp(prefix="genomix-precision-"))
    starter = gx.Genome(ROOT / "data" / "starter" / "genome.fa.gz")
    demo = gx.Genome(demo_dir() / "genome.fa.gz")
    cases = [
        ("demo", "demo", demo, list(gx.read_variants(demo_variants(), demo))[:300], None),
        ("char-mlm", str(save_char_mlm(tmp / "mlm")), starter, None, 120),
        ("char-clm", str(save_char_clm(tmp / "clm")), starter, None, 120),
        ("kmer-mlm", str(save_kmer_mlm(tmp / "kmer")), starter, None, 120),
    ]
    head = ["model", "ALTs scored", "largest abs(float32 score)", "dtype", "max abs diff", "max excess over tolerance"]
    print("| " + " | ".join([*head, "Spearman"]) + " |")
    print("|---|---|---|---|---|---|---|")
    for name, folder, genome, variants, window in cases:
        variants = variants or list(gx.read_variants(ROOT / "variants" / "starter.vcf.gz", genome))
        start = time.perf_counter()
        reference = scores(folder, genome, variants, window, "float32")
        ok = np.isfinite(reference)
        for dtype, (absolute, relative) in TOLERANCE.items():
            lower = scores(folder, genome, variants, window, dtype)[ok]
            diff = np.abs(lower - reference[ok])
            excess = float(np.max(diff - (absolute + relative * np.abs(reference[ok]))))
            rho = spearmanr(reference[ok], lower)[0]
            print(
                f"| {name} | {ok.sum()} | {np.abs(reference[ok]).max():.3f} | {dtype} | {diff.max():.4f} "
                f"| {excess:.4f} | {rho:.5f} |",
                flush=True,
            )
        print(f"<!-- {name}: {time.perf_counter() - start:.0f} s -->", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
