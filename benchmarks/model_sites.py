#!/usr/bin/env python
"""Does the demo model know each planted TF's sites? Masked-base accuracy per TF on held-out chr3.

For up to 60 planted sites of each TF on chr3, each of the site's columns that carries at least
1.5 bits in its JASPAR matrix is masked alone (the site centred in a 512 bp window) and the model's
best base is compared with the genome's. An SAE can only name what the model represents: a TF
whose sites the model cannot predict gives the atlas nothing to find.

    .venv/bin/python benchmarks/model_sites.py
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch

from genomix.io.genome import Genome
from genomix.models.registry import load_model
from genomix.motifs.jaspar import load_jaspar
from genomix.paths import demo_dir
from genomix.sequence import ALPHABET

WINDOW, SITES, MIN_BITS, CONTIG = 512, 60, 1.5, "chr3"


@torch.inference_mode()
def main() -> None:
    model = load_model("demo")
    genome = Genome(demo_dir() / "genome.fa.gz")
    motifs = {m.matrix_id: m for m in load_jaspar()}
    bed = pd.read_csv(demo_dir() / "annotations.bed", sep="\t")
    bed = bed[(bed["#chrom"] == CONTIG) & bed.kind.isin(["motif", "ctcf_site", "tata_box"])]
    base_ids = [model.token_id(base) for base in ALPHABET]
    figures = {}
    for tf, sites in bed.groupby("tf_name"):
        correct = []
        for site in sites.sample(min(SITES, len(sites)), random_state=0).itertuples(index=False):
            bits = motifs[site.motif_id].information
            bits = bits if site.strand == "+" else bits[::-1]
            start = site.start - (WINDOW - (site.end - site.start)) // 2
            seq = genome.fetch(CONTIG, start, start + WINDOW)
            positions = [site.start - start + int(column) for column in np.nonzero(bits >= MIN_BITS)[0]]
            if not positions:
                continue
            tokens = model.tokenize([seq] * len(positions))  # one copy per masked column
            rows = [next(t for t, (s, _) in enumerate(tokens.spans[0]) if s == p) for p in positions]
            tokens.input_ids[range(len(rows)), rows] = model.mask_token_id
            logits, _ = model.forward(tokens)
            for copy, (row, position) in enumerate(zip(rows, positions)):
                correct.append(ALPHABET[int(logits[copy, row, base_ids].argmax())] == seq[position])
        figures[tf] = {"masked_columns": len(correct), "accuracy": round(float(np.mean(correct)), 3)}
    print(json.dumps(dict(sorted(figures.items(), key=lambda item: item[1]["accuracy"])), indent=1))


if __name__ == "__main__":
    main()
