#!/usr/bin/env python
"""How closely genomix reads SAE files written by SAELens and dictionary_learning themselves.

For each folder of tests/fixtures/sae_interop (made by its make_fixtures.py with those packages' own
save code), loads the SAE with genomix and prints the largest difference between genomix's features
and reconstruction of the package's inputs and the package's own, the active features, and the file
size.

    .venv/bin/python benchmarks/sae_interop.py
"""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file

from genomix.sae import TopKSAE, load_sae

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "sae_interop"


def main() -> None:
    columns = ["file", "genomix class", "active features", "max abs diff, features", "max abs diff, reconstruction"]
    print("| " + " | ".join([*columns, "size"]) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        sae = load_sae(folder)
        expected = load_file(folder / "expected.safetensors")
        features = sae.encode(expected["x"]).detach()
        reconstruction = sae.decode(features).detach()
        features_diff = float((features - expected["features"]).abs().max())
        reconstruction_diff = float((reconstruction - expected["reconstruction"]).abs().max())
        size = sum(f.stat().st_size for f in folder.iterdir() if f.name != "expected.safetensors")
        active = int((expected["features"] > 0).sum())
        print(
            f"| {folder.name} | {type(sae).__name__} | {active} of {features.numel()} | {features_diff:.1e} "
            f"| {reconstruction_diff:.1e} | {size / 1024:.1f} kB |"
        )

    folder = FIXTURES / "saelens_topk_rescaled"
    expected = load_file(folder / "expected.safetensors")
    unscaled = TopKSAE(8, 16, 3, apply_b_dec_to_input=True)  # the same weights, the rescaling ignored
    unscaled.set_weights(load_file(folder / "sae_weights.safetensors"))
    chosen = unscaled.encode(expected["x"]).detach() > 0
    differ = int((chosen != (expected["features"] > 0)).any(dim=-1).sum())
    print(f"\n{folder.name} read without its rescaling: {differ} of {len(chosen)} positions keep other features")


if __name__ == "__main__":
    main()
