#!/usr/bin/env python
"""genomix's evo2 backend against a direct vortex forward, on a tiny random StripedHyena built with vortex's
own classes (Evo 2 7B's layout shrunk: hidden 32, 4 blocks: one short, one medium and one long Hyena
operator, then attention).

Checks, on the starter genome's SNVs (window 64 bp), genomix running one window per pass as the direct
calls do (batched bfloat16 passes on a GPU round differently from single ones, in any library):
- delta_ll, both strands averaged: genomix's `score_variants` against the difference of summed next-byte
  log-likelihoods of the alt and ref windows, each from its own `module(ids)` call;
- activations at `blocks.2`: genomix's `forward` against a forward hook on vortex's `module.blocks[2]`;
- the embedding score (last block): against the distance of those hooked states' means.
Prints the largest differences and exits 1 when one is above its tolerance.

On a CUDA machine with vortex installed as the evo2 package wants it (flash-attn, Triton), run it as it is:
    .venv/bin/python benchmarks/evo2_check.py
On a CPU, vtx 1.1.0 cannot be imported or built without three changes; `--cpu-shims` makes them in this
process only (vortex's files stay as installed): an empty module for `flash_attn_2_cuda`, which vortex imports
but calls only on CUDA; `torch.cuda.device` as a no-op context, which vortex enters around every block it
builds; and vortex's own plain-PyTorch rotary embedding in place of its Triton kernel. Triton must be
importable (`pip install triton`). Both sides then run the same shimmed vortex, so the check is of genomix
(tokens, hooks, scores), not of vortex's CUDA kernels.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "starter" / "genome.fa.gz"
VCF = ROOT / "variants" / "starter.vcf.gz"
W = 64
TOLERANCE = {"delta_ll": 1e-4, "activations": 1e-5, "embedding": 1e-5}
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def apply_cpu_shims() -> None:
    """The three runtime changes vtx 1.1.0 needs to build and run on a CPU (see the module docstring)."""
    sys.modules.setdefault("flash_attn_2_cuda", types.ModuleType("flash_attn_2_cuda"))
    torch.cuda.device = lambda device: contextlib.nullcontext()
    import vortex.model.rotary as rotary

    def rotary_qkv_torch(qkv, cos, sin, cos_k=None, sin_k=None, interleaved=False, seqlen_offsets=0, num_heads_q=None):
        if not isinstance(seqlen_offsets, int) or seqlen_offsets or qkv.dim() != 5:
            raise NotImplementedError("the CPU rotary shim covers whole-sequence passes only")
        length = qkv.shape[1]
        for part, (c, s) in enumerate(((cos, sin), (cos if cos_k is None else cos_k, sin if sin_k is None else sin_k))):
            qkv[:, :, part] = rotary.apply_rotary_emb_torch(qkv[:, :, part], c[:length], s[:length], interleaved)
        return qkv

    rotary.apply_rotary_emb_qkv_ = rotary_qkv_torch


def tiny_config(cuda: bool) -> dict:
    """Evo 2 7B's config (evo2-7b-8k.yml) with its sizes shrunk; float32 blocks and PyTorch attention off CUDA."""
    config = dict(
        model_name="genomix-tiny-striped-hyena",
        vocab_size=512,
        hidden_size=32,
        num_filters=32,
        attn_layer_idxs=[3],
        hcl_layer_idxs=[2],
        hcm_layer_idxs=[1],
        hcs_layer_idxs=[0],
        hcm_filter_length=16,
        hcl_filter_groups=32,
        hcm_filter_groups=4,
        hcs_filter_groups=4,
        hcs_filter_length=7,
        num_layers=4,
        short_filter_length=3,
        num_attention_heads=4,
        short_filter_bias=False,
        mlp_init_method="torch.nn.init.zeros_",
        mlp_output_init_method="torch.nn.init.zeros_",
        eps=1e-6,
        state_size=16,
        rotary_emb_base=10000,
        make_vocab_size_divisible_by=8,
        inner_size_multiple_of=16,
        inner_mlp_size=64,
        log_intermediate_values=False,
        proj_groups=1,
        hyena_filter_groups=1,
        column_split_hyena=False,
        column_split=True,
        interleave=True,
        evo2_style_activations=True,
        model_parallel_size=1,
        pipe_parallel_size=1,
        tie_embeddings=True,
        mha_out_proj_bias=True,
        hyena_out_proj_bias=True,
        hyena_flip_x1x2=False,
        qkv_proj_bias=False,
        use_fp8_input_projections=False,
        max_seqlen=256,
        max_batch_size=1,
        final_norm=True,
        use_flash_attn=cuda,
        use_flash_rmsnorm=False,
        use_flash_depthwise=False,
        use_flashfft=False,
        use_laughing_hyena=False,
        inference_mode=True,
        tokenizer_type="CharLevelTokenizer",
        prefill_style="fft",
        mlp_activation="gelu",
        print_activations=False,
    )
    if not cuda:
        config.update(attn_block_dtype=torch.float32, mlp_dtype=torch.float32)
    return config


def build_tiny(seed: int = 0) -> torch.nn.Module:
    """A random StripedHyena from vortex's classes; the long filters' log-poles made negative (decaying), as
    in trained Evo 2 checkpoints, so that the random model's outputs stay finite over a window."""
    from genomix.models.evo2 import import_vortex

    StripedHyena = import_vortex()  # noqa: N806 - vortex's class
    from vortex.model.utils import dotdict

    torch.manual_seed(seed)
    module = StripedHyena(dotdict(tiny_config(torch.cuda.is_available())))
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name.endswith("log_poles"):
                parameter.copy_(-parameter.abs() - 0.05)
    return module.eval()


def _windows():
    import pysam

    fasta = pysam.FastaFile(str(FASTA))
    with pysam.VariantFile(str(VCF)) as vcf:
        snvs = [(r.chrom, r.pos, r.ref, r.alts[0]) for r in vcf if r.id.startswith("snv")][:4]
    for chrom, pos1, ref, alt in snvs:
        start = pos1 - 1 - W // 2
        ref_window = fasta.fetch(chrom, start, start + W).upper()
        yield (chrom, pos1, ref, alt), ref_window, ref_window[: W // 2] + alt + ref_window[W // 2 + 1 :]


def _direct_loglik(module, seq: str) -> float:
    device = next(module.parameters()).device
    ids = torch.tensor([list(seq.encode("ascii"))], device=device)
    with torch.inference_mode():
        logits = module(ids)[0].float()
    logp = torch.log_softmax(logits[0, :-1], -1)
    return float(logp.gather(-1, ids[0, 1:, None]).double().sum())


def _direct_states(module, seq: str, block: int) -> torch.Tensor:
    device = next(module.parameters()).device
    ids = torch.tensor([list(seq.encode("ascii"))], device=device)
    kept = {}
    handle = module.blocks[block].register_forward_hook(lambda m, i, o: kept.update(states=o[0].float()))
    try:
        with torch.inference_mode():
            module(ids)
    finally:
        handle.remove()
    return kept["states"][0]


def check(module) -> dict[str, float]:
    """Largest differences between genomix's evo2 backend over `module` and direct vortex calls."""
    import genomix as gx
    from genomix.models.evo2 import Evo2Model
    from genomix.scoring import score_variants

    model = Evo2Model.from_module(module, name="tiny-striped-hyena")
    genome = gx.Genome(FASTA)
    rc = lambda seq: seq.translate(_COMPLEMENT)[::-1]  # noqa: E731
    worst = dict.fromkeys(TOLERANCE, 0.0)
    last = len(model.layers) - 1
    for (chrom, pos1, ref, alt), ref_window, alt_window in _windows():
        variant = gx.Variant(chrom=chrom, pos=pos1 - 1, ref=ref, alt=alt, contig=chrom)
        expected = (
            _direct_loglik(module, alt_window)
            - _direct_loglik(module, ref_window)
            + _direct_loglik(module, rc(alt_window))
            - _direct_loglik(module, rc(ref_window))
        ) / 2
        (scored,) = score_variants(model, genome, [variant], "delta_ll", W, batch_size=1)
        worst["delta_ll"] = max(worst["delta_ll"], abs(scored.score - expected))
        for seq in (ref_window, alt_window):
            _, captured = model.forward(model.tokenize([seq]), layers=("blocks.2",), logits=False)
            direct = _direct_states(module, seq, 2)
            worst["activations"] = max(worst["activations"], float((captured["blocks.2"][0] - direct).abs().max()))
        means = [_direct_states(module, seq, last).double().mean(0) for seq in (ref_window, alt_window)]
        embedding = float((means[1] - means[0]).norm())
        (scored,) = score_variants(model, genome, [variant], "embedding", W, rc=False, batch_size=1, layer=last)
        worst["embedding"] = max(worst["embedding"], abs(scored.score - embedding))
    return worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-shims", action="store_true", help="make vtx 1.1.0 build and run on a CPU (see above)")
    args = parser.parse_args(argv)
    if args.cpu_shims:
        apply_cpu_shims()
    from importlib.metadata import version

    module = build_tiny()
    device = next(module.parameters()).device
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    print(f"vtx {version('vtx')}, torch {torch.__version__}, {gpu}; tiny StripedHyena on {device}")
    worst = check(module)
    failed = [name for name, value in worst.items() if not value <= TOLERANCE[name]]
    for name, value in worst.items():
        print(f"{name}: max |genomix - vortex| {value:.2e} (tolerance {TOLERANCE[name]:g})")
    print("FAIL: " + ", ".join(failed) if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
