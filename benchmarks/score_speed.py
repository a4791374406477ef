#!/usr/bin/env python
"""Scoring speed: `genomix score` against the naive notebook loop and the batched-forward bound.

Everything is built in a temporary folder: a random genome (fixed seed), two VCFs with REF
taken from it, and a random-init ESM masked LM of the published Nucleotide Transformer
v2-50M shape (12 layers, hidden 512, 16 heads, rotary positions, the NT 6-mer vocabulary;
NT-v2's gated feed-forward with intermediate 2048 has three 512x2048 matrices per layer, the
stock ESM block used here two, so its intermediate is 3072: same weights and FLOPs per layer), saved with
`save_pretrained` and loaded with `genomix.load_model(folder)`,
the path a hub id takes.

VCFs:
- sparse: a few hundred SNVs at distinct positions (one ALT each);
- saturation: every position of a few short regions with all 3 ALTs, one VCF line per ALT
  (as an MPRA / saturation-genome-editing table normalised with `bcftools norm -m-`).

Three timings per VCF, measured in the same run and interleaved over repeats (medians):
- genomix: `genomix.pipelines.score_to_file(vcf, genome, model, out.tsv, method="llr",
  window=W, batch_size=B)`, the function `genomix score` calls (llr with reverse-complement
  averaging, its default), TSV written; model and genome loading are not timed;
- naive: the loop a user writes in a notebook: for each variant build the window with
  pysam, tokenize it with the model's transformers tokenizer, mask the token holding the
  variant, one `model(...)` forward per strand (2 per variant), batch size 1;
- bound: only the batched forward passes (batch size B) over the unique masked ref windows
  genomix needs, i.e. one per (position, strand): the 3 ALTs of a saturation position share
  them. Tokenization is done before the clock starts.

The naive loop's scores are compared with genomix's (max abs difference printed), so both
compute the same thing. Targets (from the issue): genomix within 25 % of the bound on both
VCFs (>= 0.75 of the bound's variants/s) and >= 3x the naive loop on the saturation VCF.
No test asserts on time.

`--causal` measures delta_ll instead, on a random-init character-level GPT-2 (a BOS token, then one token
per base) saved and loaded the same way, over the same two kinds of VCF. Four timings per VCF:
- reuse: `score_to_file(..., method="delta_ll")`, genomix's default: each alt pass continues the ref
  pass's key/value cache from the token before the variant's;
- whole: the same call with `reuse_prefix=False`, every ref and alt window whole (genomix before);
- bound (reuse): only the batched transformers passes the reuse scheme needs: the unique ref windows
  whole with their cache kept, then each alt window from the token before the variant's, on the ref's
  cache cut there (the cut inside the clock, tokenization outside it);
- bound (whole): batched passes over every unique ref and alt window, whole.
The reuse and whole scores are compared (max abs difference printed; they must agree within 1e-5).
Target (from the issue): reuse >= 1.6x whole on the saturation VCF.

Usage:
    .venv/bin/python benchmarks/score_speed.py --quick     # small model, about a minute
    .venv/bin/python benchmarks/score_speed.py             # NT-v2-50M shape, 10-15 min on 2 CPU cores
    .venv/bin/python benchmarks/score_speed.py --causal --threads 1   # delta_ll: prefix reuse against whole windows
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

NT_SPECIALS = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]
K = 6  # bases per token of the NT vocabulary

# NT-v2-50M shape: its gated FFN (3 x 512x2048 per layer) as a stock ESM FFN (2 x 512x3072).
FULL = dict(
    layers=12,
    hidden=512,
    heads=16,
    intermediate=3072,
    genome_bp=300_000,
    n_sparse=200,
    regions=2,
    region_len=30,
    repeats=3,
)
QUICK = dict(
    layers=4, hidden=128, heads=4, intermediate=512, genome_bp=100_000, n_sparse=40, regions=1, region_len=12, repeats=3
)

# A GPT-2 character-level causal LM: 2 layers, hidden 512 (6.9 M parameters), about half a second of one core per
# 1,201-token window. Prefix reuse halves the work of the linear layers of an alt pass, not its attention (the
# alt's tokens still attend to every token before them), so the gain grows with the width against the window.
CAUSAL = dict(layers=2, hidden=512, heads=8, genome_bp=100_000, n_sparse=20, regions=1, region_len=10, repeats=3)
CAUSAL_QUICK = dict(layers=2, hidden=64, heads=4, genome_bp=50_000, n_sparse=20, regions=1, region_len=10, repeats=3)
PREFIX_TARGET = 1.6  # reuse / whole on the saturation VCF
SCORE_MATCH = 1e-5

SAT_TARGET = 3.0  # genomix / naive on the saturation VCF
BOUND_TARGET = 0.75  # genomix variants/s as a fraction of the bound's ("within 25 %")
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def revcomp(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


# --------------------------------------------------------------------------- inputs


def build_genome(folder: Path, length: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGT"), size=length))
    path = folder / "genome.fa"
    with open(path, "w") as out:
        out.write(">chr1\n")
        for i in range(0, length, 60):
            out.write(seq[i : i + 60] + "\n")
    return path


def _write_vcf(path: Path, length: int, rows: list[tuple[int, str, str]]) -> Path:
    with open(path, "w") as out:
        out.write("##fileformat=VCFv4.2\n")
        out.write(f"##contig=<ID=chr1,length={length}>\n")
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for n, (pos0, ref, alt) in enumerate(rows):
            out.write(f"chr1\t{pos0 + 1}\tv{n}\t{ref}\t{alt}\t.\t.\t.\n")
    return path


def build_vcfs(
    folder: Path, genome_seq: str, n_sparse: int, regions: int, region_len: int, margin: int, seed: int
) -> tuple[Path, Path]:
    """Sparse SNVs at distinct positions, and saturation mutagenesis of `regions` x `region_len` bp."""
    rng = np.random.default_rng(seed + 1)
    length = len(genome_seq)
    positions = np.sort(rng.choice(np.arange(margin, length - margin), size=n_sparse, replace=False))
    sparse = []
    for pos in positions:
        ref = genome_seq[pos]
        sparse.append((int(pos), ref, str(rng.choice([b for b in "ACGT" if b != ref]))))
    starts = np.linspace(margin, length - margin - region_len, regions + 2, dtype=int)[1:-1]
    saturation = [
        (int(p), genome_seq[p], alt)
        for start in starts
        for p in range(start, start + region_len)
        for alt in "ACGT"
        if alt != genome_seq[p]
    ]
    return (
        _write_vcf(folder / "sparse.vcf", length, sparse),
        _write_vcf(folder / "saturation.vcf", length, saturation),
    )


def build_model(folder: Path, shape: dict, max_positions: int, seed: int) -> Path:
    """Random-init NT-like ESM masked LM saved as a Hugging Face folder (model + tokenizer)."""
    from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    kmers = ["".join(p) for p in itertools.product("ATCG", repeat=K)]
    vocab = NT_SPECIALS + kmers + list("ATCGN")
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(seed)
    config = EsmConfig(
        vocab_size=len(vocab),
        hidden_size=shape["hidden"],
        num_hidden_layers=shape["layers"],
        num_attention_heads=shape["heads"],
        intermediate_size=shape["intermediate"],
        max_position_embeddings=max_positions,
        position_embedding_type="rotary",
        pad_token_id=1,
        mask_token_id=2,
        token_dropout=False,
    )
    EsmForMaskedLM(config).save_pretrained(folder)
    EsmTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def build_causal_model(folder: Path, shape: dict, max_positions: int, seed: int) -> Path:
    """Random-init character-level GPT-2 whose tokenizer prepends a BOS token, saved as a Hugging Face folder."""
    from tokenizers import Tokenizer, models, processors
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {token: i for i, token in enumerate(["<pad>", "<bos>", "<eos>", "<unk>", "A", "C", "G", "T", "N"])}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    core.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=max_positions,
        n_embd=shape["hidden"],
        n_layer=shape["layers"],
        n_head=shape["heads"],
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def read_snvs(vcf: Path) -> list[tuple[str, int, str, str]]:
    import pysam

    with pysam.VariantFile(str(vcf)) as handle:
        return [(rec.chrom, rec.start, rec.ref, alt) for rec in handle for alt in rec.alts]


# --------------------------------------------------------------------------- the three timings


class ForwardClock:
    """Wraps a genomix model's `forward` (on the instance, genomix untouched) to time and count it."""

    def __init__(self, model):
        self.model, self.inner = model, model.forward
        self.seconds, self.rows, self.calls = 0.0, 0, 0
        model.forward = self

    def __call__(self, tokens, layers=()):
        start = time.perf_counter()
        result = self.inner(tokens, layers=layers)
        self.seconds += time.perf_counter() - start
        self.rows += len(tokens)
        self.calls += 1
        return result

    def reset(self):
        self.seconds, self.rows, self.calls = 0.0, 0, 0


def run_genomix(vcf: Path, genome, gmodel, clock: ForwardClock, out: Path, window: int, batch_size: int):
    import pandas as pd

    from genomix.pipelines import score_to_file

    clock.reset()
    start = time.perf_counter()
    counts = score_to_file(vcf, genome, gmodel, out, method="llr", window=window, batch_size=batch_size)
    seconds = time.perf_counter() - start
    if set(counts) != {"ok"}:
        raise SystemExit(f"genomix skipped variants of {vcf.name}: {counts}")
    scores = pd.read_csv(out, sep="\t")["score"].to_numpy()
    return seconds, scores, dict(forward_s=clock.seconds, forward_rows=clock.rows, forward_calls=clock.calls)


def run_naive(vcf: Path, fasta: Path, model, tokenizer, window: int):
    """The notebook loop: per variant, per strand: window, tokenize, mask, forward (batch 1)."""
    import pysam

    start = time.perf_counter()
    scores = []
    fa = pysam.FastaFile(str(fasta))
    mask_id = tokenizer.mask_token_id
    offset = window // 2
    with torch.inference_mode(), pysam.VariantFile(str(vcf)) as handle:
        for rec in handle:
            for alt in rec.alts:
                ref_seq = fa.fetch(rec.chrom, rec.start - offset, rec.start - offset + window).upper()
                alt_seq = ref_seq[:offset] + alt + ref_seq[offset + 1 :]
                llrs = []
                for ref_s, alt_s, at in (
                    (ref_seq, alt_seq, offset),
                    (revcomp(ref_seq), revcomp(alt_seq), window - 1 - offset),
                ):
                    enc = tokenizer(ref_s, return_tensors="pt")
                    assert enc["input_ids"].shape[1] == window // K + 2, "expected <cls> + 6-mers + <eos>"
                    token = 1 + at // K  # <cls> first, then 6-mers
                    kmer = slice(at // K * K, at // K * K + K)
                    enc["input_ids"][0, token] = mask_id
                    logits = model(**enc).logits
                    logp = torch.log_softmax(logits[0, token], dim=-1)
                    ref_id, alt_id = tokenizer.convert_tokens_to_ids([ref_s[kmer], alt_s[kmer]])
                    llrs.append(float(logp[alt_id] - logp[ref_id]))
                scores.append(sum(llrs) / 2)
    fa.close()
    return time.perf_counter() - start, np.array(scores)


def unique_masked_windows(vcf: Path, fasta: Path, tokenizer, window: int) -> torch.Tensor:
    """Token ids of the masked ref windows genomix needs: one per (position, strand)."""
    import pysam

    fa = pysam.FastaFile(str(fasta))
    offset = window // 2
    rows = []
    for chrom, pos in dict.fromkeys((c, p) for c, p, _, _ in read_snvs(vcf)):
        ref_seq = fa.fetch(chrom, pos - offset, pos - offset + window).upper()
        for seq, at in ((ref_seq, offset), (revcomp(ref_seq), window - 1 - offset)):
            ids = tokenizer(seq)["input_ids"]
            ids[1 + at // K] = tokenizer.mask_token_id
            rows.append(ids)
    fa.close()
    return torch.tensor(rows)


def run_bound(ids: torch.Tensor, model, batch_size: int) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(ids), batch_size):
            batch = ids[first : first + batch_size]
            model(input_ids=batch, attention_mask=torch.ones_like(batch))
    return time.perf_counter() - start


# --------------------------------------------------------------------------- report


def machine() -> str:
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{os.cpu_count()}-core {cpu}, {gpu}; torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"transformers {transformers.__version__}, Python {platform.python_version()}"
    )


def table(rows: list[dict]) -> str:
    head = [
        "VCF",
        "variants",
        "unique passes",
        "genomix var/s",
        "naive var/s",
        "bound var/s",
        "genomix/bound",
        "genomix/naive",
        "targets",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        lines.append(
            "| "
            + " | ".join(
                [
                    r["vcf"],
                    str(r["variants"]),
                    str(r["unique_passes"]),
                    f"{r['genomix_vps']:.2f}",
                    f"{r['naive_vps']:.2f}",
                    f"{r['bound_vps']:.2f}",
                    f"{r['genomix_over_bound']:.2f}",
                    f"{r['genomix_over_naive']:.2f}x",
                    r["verdict"],
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small model and few variants (about a minute)")
    parser.add_argument("--window", type=int, default=1200, help="window in bp (default 1200)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=4,
        help="batch size of genomix and of the bound (default 4, the fastest per sequence on a 2-core CPU)",
    )
    parser.add_argument("--repeats", type=int, help="timed repeats of each measurement (medians are reported)")
    parser.add_argument("--n-sparse", type=int, help="SNVs in the sparse VCF")
    parser.add_argument("--regions", type=int, help="saturation regions")
    parser.add_argument("--region-len", type=int, help="positions per saturation region (3 ALTs each)")
    parser.add_argument("--layers", type=int, help="--causal: the GPT-2's layers")
    parser.add_argument("--hidden", type=int, help="--causal: the GPT-2's width")
    parser.add_argument("--heads", type=int, help="--causal: the GPT-2's attention heads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--keep", type=Path, help="build inputs in this folder and keep them (default: a temporary folder, removed)"
    )
    parser.add_argument("--json", type=Path, help="write every timing to this JSON file")
    parser.add_argument("--causal", action="store_true", help="delta_ll on a GPT-2: prefix reuse against whole windows")
    parser.add_argument(
        "--threads", type=int, help="torch threads (default torch's; 1 keeps timings steady on a shared machine)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.causal:
        shape = dict(CAUSAL_QUICK if args.quick else CAUSAL)
    else:
        shape = dict(QUICK if args.quick else FULL)
    for key in ("repeats", "n_sparse", "regions", "region_len", "layers", "hidden", "heads"):
        if getattr(args, key) is not None:
            shape[key] = getattr(args, key)
    window, batch = args.window, args.batch_size
    if window % K:
        parser.error(f"--window must be a multiple of {K} (whole 6-mer tokens, as the naive loop assumes)")

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="genomix-score-speed-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return (measure_causal if args.causal else measure)(args, shape, window, batch, workdir)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(args, shape: dict, window: int, batch: int, workdir: Path) -> int:
    from transformers import AutoTokenizer, EsmForMaskedLM

    import genomix
    from genomix.io.genome import Genome

    max_positions = max(2050, window // K + 8)
    fasta = build_genome(workdir, shape["genome_bp"], args.seed)
    import pysam

    genome_seq = pysam.FastaFile(str(fasta)).fetch("chr1")
    vcfs = dict(
        zip(
            ("sparse", "saturation"),
            build_vcfs(
                workdir,
                genome_seq,
                shape["n_sparse"],
                shape["regions"],
                shape["region_len"],
                margin=window,
                seed=args.seed,
            ),
        )
    )
    model_dir = build_model(workdir / "model", shape, max_positions, args.seed)

    # genomix: exactly the path a hub id takes. Naive and bound: what a notebook user loads.
    gmodel = genomix.load_model(str(model_dir), device="cpu")
    clock = ForwardClock(gmodel)
    genome = Genome(fasta)
    hf_model = EsmForMaskedLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    n_params = sum(p.numel() for p in hf_model.parameters())

    print(f"machine: {machine()}")
    print(
        f"model: ESM masked LM, {shape['layers']} layers, hidden {shape['hidden']}, {shape['heads']} heads, "
        f"intermediate {shape['intermediate']}, vocab {hf_model.config.vocab_size}, {n_params / 1e6:.1f}M parameters "
        f"(random init, seed {args.seed}); window {window} bp = {window // K + 2} tokens; batch size {batch}; "
        f"{shape['repeats']} repeats; inputs in {workdir}"
    )

    load_start = os.getloadavg()
    ids = {name: unique_masked_windows(vcf, fasta, tokenizer, window) for name, vcf in vcfs.items()}
    n_variants = {name: len(read_snvs(vcf)) for name, vcf in vcfs.items()}
    for name in vcfs:
        print(f"{name}: {n_variants[name]} variants, {len(ids[name])} unique masked passes")

    with torch.inference_mode():  # warm-up (allocator, kernels) outside the clock
        hf_model(input_ids=ids["sparse"][:batch])
    warm = workdir / "warmup.vcf"
    warm.write_text("".join(open(vcfs["saturation"]).readlines()[: 3 + batch]))
    run_genomix(warm, genome, gmodel, clock, workdir / "warmup.tsv", window, batch)

    # Interleaved, order rotated each repeat (a late slot is not always the same method), wall and
    # process CPU time both kept: on a shared machine, other jobs (or a paused process) inflate the
    # wall clock of whatever runs at that moment; CPU seconds are the cross-check.
    runners = {
        "bound": lambda name: (run_bound(ids[name], hf_model, batch), None, None),
        "genomix": lambda name: run_genomix(
            vcfs[name], genome, gmodel, clock, workdir / f"{name}.scores.tsv", window, batch
        ),
        "naive": lambda name: (*run_naive(vcfs[name], fasta, hf_model, tokenizer, window), None),
    }
    methods = list(runners)
    times = {name: {m: [] for m in methods} for name in vcfs}
    cpu = {name: {m: [] for m in methods} for name in vcfs}
    forward_info, checks = {}, {}
    for rep in range(shape["repeats"]):
        order = methods[rep % 3 :] + methods[: rep % 3]
        for name in vcfs:
            scores = {}
            for method in order:
                cpu_start = time.process_time()
                wall, scores[method], info = runners[method](name)
                cpu[name][method].append(time.process_time() - cpu_start)
                times[name][method].append(wall)
                if info is not None:
                    forward_info.setdefault(name, []).append(info)
            diff = float(np.max(np.abs(scores["genomix"] - scores["naive"])))
            checks[name] = max(checks.get(name, 0.0), diff)
            info = forward_info[name][-1]
            print(
                f"  repeat {rep + 1}/{shape['repeats']} {name:10s} "
                + "  ".join(f"{m} {times[name][m][-1]:7.2f} s ({cpu[name][m][-1]:.1f} cpu-s)" for m in order)
                + f"  | genomix forward {info['forward_s']:.2f} s, {info['forward_rows']} rows"
                f"  | max|genomix-naive| {diff:.2e} "
                f"(scores {scores['genomix'].min():.3f}..{scores['genomix'].max():.3f})",
                flush=True,
            )

    rows = []
    for name in vcfs:
        med = {k: statistics.median(v) for k, v in times[name].items()}
        med_cpu = {k: statistics.median(v) for k, v in cpu[name].items()}
        n = n_variants[name]
        row = dict(
            vcf=name,
            variants=n,
            unique_passes=len(ids[name]),
            genomix_passes=forward_info[name][-1]["forward_rows"],
            genomix_vps=n / med["genomix"],
            naive_vps=n / med["naive"],
            bound_vps=n / med["bound"],
            median_s=med,
            runs_s=times[name],
            median_cpu_s=med_cpu,
            runs_cpu_s=cpu[name],
            genomix_forward_s=statistics.median(i["forward_s"] for i in forward_info[name]),
            max_abs_diff=checks[name],
        )
        row["genomix_over_bound"] = row["genomix_vps"] / row["bound_vps"]
        row["genomix_over_naive"] = row["genomix_vps"] / row["naive_vps"]
        row["cpu_genomix_over_bound"] = med_cpu["bound"] / med_cpu["genomix"]
        row["cpu_genomix_over_naive"] = med_cpu["naive"] / med_cpu["genomix"]
        verdicts = [f"bound {'PASS' if row['genomix_over_bound'] >= BOUND_TARGET else 'MISS'}"]
        if name == "saturation":
            verdicts.append(f"3x naive {'PASS' if row['genomix_over_naive'] >= SAT_TARGET else 'MISS'}")
        row["verdict"] = ", ".join(verdicts)
        rows.append(row)

    print()
    print(f"medians of {shape['repeats']} repeats (wall clock):")
    print(table(rows))
    print()
    print(
        "load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}; at end: {:.2f} {:.2f} {:.2f}".format(
            *load_start, *os.getloadavg()
        )
    )
    for r in rows:
        overhead = r["median_s"]["genomix"] - r["genomix_forward_s"]
        print(
            f"{r['vcf']}: genomix ran {r['genomix_passes']} forward rows (unique passes {r['unique_passes']}); "
            f"median {r['median_s']['genomix']:.2f} s of which {r['genomix_forward_s']:.2f} s inside model.forward, "
            f"{overhead:.2f} s outside; bound {r['median_s']['bound']:.2f} s; naive {r['median_s']['naive']:.2f} s; "
            f"max |genomix - naive| score {r['max_abs_diff']:.2e}"
        )
        print(
            f"{r['vcf']}: by process CPU seconds (median): genomix/bound {r['cpu_genomix_over_bound']:.2f}, "
            f"genomix/naive {r['cpu_genomix_over_naive']:.2f}x; runs (wall s): "
            + "; ".join(f"{m} " + ", ".join(f"{t:.1f}" for t in r["runs_s"][m]) for m in r["runs_s"])
        )
    print(
        f"targets: genomix >= {BOUND_TARGET:.2f} x bound variants/s on both VCFs; "
        f">= {SAT_TARGET:.0f}x naive on saturation"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                dict(
                    date=datetime.datetime.now().isoformat(timespec="seconds"),
                    machine=machine(),
                    argv=sys.argv,
                    shape=shape,
                    window=window,
                    batch_size=batch,
                    parameters=n_params,
                    load_start=load_start,
                    load_end=os.getloadavg(),
                    rows=rows,
                ),
                indent=2,
                default=str,
            )
        )
    genome.close()
    return 0


# --------------------------------------------------------------------------- --causal: delta_ll


def causal_passes(vcf: Path, fasta: Path, tokenizer, window: int) -> list[tuple[list[int], list[list[int]], int]]:
    """Per (position, strand): the ref window's ids, its ALTs' ids, and the first token where they differ."""
    import pysam

    fa = pysam.FastaFile(str(fasta))
    offset = window // 2
    alts: dict[tuple[str, int], list[str]] = {}
    for chrom, pos, _, alt in read_snvs(vcf):
        alts.setdefault((chrom, pos), []).append(alt)
    groups = []
    for (chrom, pos), bases in alts.items():
        ref_seq = fa.fetch(chrom, pos - offset, pos - offset + window).upper()
        alt_seqs = [ref_seq[:offset] + base + ref_seq[offset + 1 :] for base in bases]
        for strand, at in ((lambda s: s, offset), (revcomp, window - 1 - offset)):
            ids = tokenizer(strand(ref_seq))["input_ids"]
            groups.append((ids, [tokenizer(strand(a))["input_ids"] for a in alt_seqs], 1 + at))  # after <bos>
    fa.close()
    return groups


def run_bound_whole(groups, model, batch_size: int) -> float:
    windows = torch.tensor([ids for ref, alts, _ in groups for ids in (ref, *alts)])
    return run_bound(windows, model, batch_size)


def run_bound_reuse(groups, model, batch_size: int) -> float:
    """The reuse scheme with plain transformers calls: ref windows whole (cache kept), then the alts from the
    token before the variant's on the cut cache, those whose variant is at the same token together."""
    from transformers import DynamicCache

    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(groups), batch_size):
            chunk = groups[first : first + batch_size]
            refs = torch.tensor([ref for ref, _, _ in chunk])
            cache = model(input_ids=refs, use_cache=True)["cache"]
            kv = [(layer.keys, layer.values) for layer in cache.layers]
            pairs = sorted(
                ((row, ids, at) for row, (_, alts, at) in enumerate(chunk) for ids in alts), key=lambda p: p[2]
            )
            heads = [h for h in range(len(pairs)) if h == 0 or pairs[h][2] != pairs[h - 1][2]] + [len(pairs)]
            parts = [
                pairs[h : min(h + batch_size, end)]
                for begin, end in zip(heads, heads[1:])
                for h in range(begin, end, batch_size)
            ]
            for part in parts:
                at = part[0][2]  # every window of a part has its variant at the same token
                rows = torch.tensor([p[0] for p in part])
                past = DynamicCache(ddp_cache_data=[(k[rows, :, : at - 1], v[rows, :, : at - 1]) for k, v in kv])
                ids = torch.tensor([p[1][at - 1 :] for p in part])
                model(input_ids=ids, attention_mask=torch.ones(len(part), refs.shape[1]), cache=past, use_cache=False)
    return time.perf_counter() - start


def run_genomix_ll(vcf: Path, genome, gmodel, out: Path, window: int, batch_size: int, reuse: bool):
    import pandas as pd

    from genomix.pipelines import score_to_file
    from genomix.scoring import ScoreOptions

    options = ScoreOptions(method="delta_ll", window=window, batch_size=batch_size, reuse_prefix=reuse)
    start = time.perf_counter()
    counts = score_to_file(vcf, genome, gmodel, out, options)
    seconds = time.perf_counter() - start
    if set(counts) != {"ok"}:
        raise SystemExit(f"genomix skipped variants of {vcf.name}: {counts}")
    return seconds, pd.read_csv(out, sep="\t")["score"].to_numpy()


def measure_causal(args, shape: dict, window: int, batch: int, workdir: Path) -> int:
    import pysam
    from transformers import AutoTokenizer, GPT2LMHeadModel

    import genomix
    from genomix.io.genome import Genome

    fasta = build_genome(workdir, shape["genome_bp"], args.seed)
    genome_seq = pysam.FastaFile(str(fasta)).fetch("chr1")
    vcfs = dict(
        zip(
            ("sparse", "saturation"),
            build_vcfs(
                workdir, genome_seq, shape["n_sparse"], shape["regions"], shape["region_len"], window, args.seed
            ),
        )
    )
    model_dir = build_causal_model(workdir / "model", shape, window + 8, args.seed)
    gmodel = genomix.load_model(str(model_dir), device="cpu")
    genome = Genome(fasta)
    hf_model = GPT2LMHeadModel.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    n_params = sum(p.numel() for p in hf_model.parameters())
    print(f"machine: {machine()}")
    print(
        f"model: GPT-2 character-level causal LM, {shape['layers']} layers, hidden {shape['hidden']}, "
        f"{shape['heads']} heads, {n_params / 1e6:.1f}M parameters (random init, seed {args.seed}); window {window} bp "
        f"= {window + 1} tokens; batch size {batch}; {shape['repeats']} repeats; inputs in {workdir}"
    )
    load_start = os.getloadavg()
    groups = {name: causal_passes(vcf, fasta, tokenizer, window) for name, vcf in vcfs.items()}
    n_variants = {name: len(read_snvs(vcf)) for name, vcf in vcfs.items()}
    for name in vcfs:
        alts = sum(len(a) for _, a, _ in groups[name])
        print(f"{name}: {n_variants[name]} variants, {len(groups[name])} ref windows, {alts} alt windows")
    warm = workdir / "warmup.vcf"
    warm.write_text("".join(open(vcfs["saturation"]).readlines()[: 3 + batch]))
    run_genomix_ll(warm, genome, gmodel, workdir / "warmup.tsv", window, batch, True)
    runners = {
        "reuse": lambda name: run_genomix_ll(vcfs[name], genome, gmodel, workdir / "r.tsv", window, batch, True),
        "whole": lambda name: run_genomix_ll(vcfs[name], genome, gmodel, workdir / "w.tsv", window, batch, False),
        "bound_reuse": lambda name: (run_bound_reuse(groups[name], hf_model, batch), None),
        "bound_whole": lambda name: (run_bound_whole(groups[name], hf_model, batch), None),
    }
    methods = list(runners)
    times = {name: {m: [] for m in methods} for name in vcfs}
    cpu = {name: {m: [] for m in methods} for name in vcfs}
    diffs = {name: 0.0 for name in vcfs}
    for rep in range(shape["repeats"]):
        order = methods[rep % len(methods) :] + methods[: rep % len(methods)]
        for name in vcfs:
            scores = {}
            for method in order:
                cpu_start = time.process_time()
                wall, scores[method] = runners[method](name)
                cpu[name][method].append(time.process_time() - cpu_start)
                times[name][method].append(wall)
            diffs[name] = max(diffs[name], float(np.max(np.abs(scores["reuse"] - scores["whole"]))))
            print(
                f"  repeat {rep + 1}/{shape['repeats']} {name:10s} "
                + "  ".join(f"{m} {times[name][m][-1]:7.2f} s ({cpu[name][m][-1]:.1f} cpu-s)" for m in order)
                + f"  | max|reuse-whole| {diffs[name]:.2e}",
                flush=True,
            )
    rows = []
    for name in vcfs:
        med = {m: statistics.median(v) for m, v in times[name].items()}
        n = n_variants[name]
        med_cpu = {m: statistics.median(v) for m, v in cpu[name].items()}
        row = dict(vcf=name, variants=n, median_s=med, runs_s=times[name], max_abs_diff=diffs[name])
        row.update(median_cpu_s=med_cpu, runs_cpu_s=cpu[name], cpu_reuse_over_whole=med_cpu["whole"] / med_cpu["reuse"])
        row.update({f"{m}_vps": n / med[m] for m in methods})
        row["reuse_over_whole"] = med["whole"] / med["reuse"]
        row["bound_reuse_over_bound_whole"] = med["bound_whole"] / med["bound_reuse"]
        row["reuse_over_bound_reuse"] = med["bound_reuse"] / med["reuse"]
        verdicts = [f"scores {'PASS' if diffs[name] <= SCORE_MATCH else 'MISS'}"]
        if name == "saturation":
            verdicts.append(f"{PREFIX_TARGET}x {'PASS' if row['reuse_over_whole'] >= PREFIX_TARGET else 'MISS'}")
        row["verdict"] = ", ".join(verdicts)
        rows.append(row)
    print()
    print(f"medians of {shape['repeats']} repeats (wall clock), variants/s:")
    head = ["VCF", "variants", "reuse", "whole", "bound (reuse)", "bound (whole)", "reuse/whole"]
    head += ["bound reuse/whole", "reuse/bound (reuse)", "max abs diff", "targets"]
    print("| " + " | ".join(head) + " |\n|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        cells = [r["vcf"], str(r["variants"])] + [f"{r[f'{m}_vps']:.2f}" for m in methods]
        cells += [f"{r['reuse_over_whole']:.2f}x", f"{r['bound_reuse_over_bound_whole']:.2f}x"]
        cells += [f"{r['reuse_over_bound_reuse']:.2f}", f"{r['max_abs_diff']:.1e}", r["verdict"]]
        print("| " + " | ".join(cells) + " |")
    for r in rows:
        print(
            f"{r['vcf']}: by process CPU seconds (median): reuse/whole {r['cpu_reuse_over_whole']:.2f}x; "
            + "; ".join(f"{m} {v:.1f}" for m, v in r["median_cpu_s"].items())
        )
    print(
        "load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}; at end: {:.2f} {:.2f} {:.2f}".format(
            *load_start, *os.getloadavg()
        )
    )
    print(f"targets: reuse >= {PREFIX_TARGET}x whole on saturation; max |reuse - whole| <= {SCORE_MATCH:g}")
    if args.json:
        args.json.write_text(
            json.dumps(
                dict(
                    date=datetime.datetime.now().isoformat(timespec="seconds"),
                    machine=machine(),
                    argv=sys.argv,
                    shape=shape,
                    window=window,
                    batch_size=batch,
                    parameters=n_params,
                    rows=rows,
                ),
                indent=2,
                default=str,
            )
        )
    genome.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
