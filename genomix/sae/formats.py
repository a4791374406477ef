"""SAE files from elsewhere: dictionary_learning's `ae.pt` + `config.json`, and the Goodfire Evo 2
SAE checkpoint (`BatchTopKTiedSAE`, a plain state dict). `load_sae` reads any of them, or a
genomix / SAELens folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from genomix.errors import GenomixError
from genomix.sae.base import SAE, BatchTopKSAE, TopKSAE


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several kinds for files that are not tensors only
        raise GenomixError(f"cannot read {path} as a plain state dict of tensors: {error}") from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise GenomixError(f"{path} holds a {type(state).__name__}, not a state dict")
    clean = {}
    for key, value in state.items():  # torch.compile and DataParallel prefixes
        for prefix in ("_orig_mod.", "module."):
            while key.startswith(prefix):
                key = key[len(prefix) :]
        clean[key] = value
    return clean


def import_dictionary_learning(folder: str | Path, model_name: str | None = None, hook_name: str | None = None) -> SAE:
    """An `AutoEncoderTopK` or `BatchTopKSAE` saved by dictionary_learning (`ae.pt` + `config.json`).

    Their encoder is relu(W_e (x - b_dec) + b_e); TopK keeps the k largest per position,
    BatchTopK keeps what exceeds its learned `threshold`.
    """
    folder = Path(folder)
    state = _state_dict(folder / "ae.pt")
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else {}
    trainer = config.get("trainer", config)
    # Without a config the class is unknown; AutoEncoderTopK also carries a (unused) threshold buffer.
    dict_class = trainer.get("dict_class", "AutoEncoderTopK")
    if dict_class not in ("AutoEncoderTopK", "BatchTopKSAE"):
        raise GenomixError(
            f"{folder}: dictionary_learning {dict_class} is not a TopK SAE; genomix imports "
            "AutoEncoderTopK and BatchTopKSAE"
        )
    missing = {"encoder.weight", "encoder.bias", "decoder.weight", "b_dec"} - set(state)
    if missing:
        raise GenomixError(f"{folder / 'ae.pt'} lacks {', '.join(sorted(missing))}: not a dictionary_learning TopK SAE")
    d_sae, d_in = state["encoder.weight"].shape
    k = int(state["k"]) if "k" in state else int(trainer.get("k", 0))
    metadata = {
        "model_name": model_name or trainer.get("lm_name"),
        "imported_from": f"dictionary_learning {dict_class}",
        "hook_name": hook_name or (f"blocks.{trainer['layer']}" if trainer.get("layer") is not None else None),
    }
    cls = BatchTopKSAE if dict_class == "BatchTopKSAE" else TopKSAE
    sae = cls(d_in, d_sae, k, {key: v for key, v in metadata.items() if v is not None}, apply_b_dec_to_input=True)
    weights = {
        "W_enc": state["encoder.weight"].T,
        "W_dec": state["decoder.weight"].T,
        "b_enc": state["encoder.bias"],
        "b_dec": state["b_dec"],
    }
    if cls is BatchTopKSAE:
        weights["threshold"] = state["threshold"].reshape(-1).clamp_min(0)
    sae.set_weights(weights)
    return sae.eval()


def import_goodfire(
    path: str | Path, k: int = 64, model_name: str = "evo2_7b_262k", hook_name: str = "blocks.26"
) -> SAE:
    """The Goodfire Evo 2 SAE (`BatchTopKTiedSAE`: tied `W [d_in, d_sae]`, `b_enc`, `b_dec`).

    Its encoder is relu(x W + b_enc) and its decoder f W^T + b_dec. The published code keeps the
    top k x positions over a whole window, so a position's features depend on its neighbours;
    genomix keeps the top k of each position instead (the same on a single position).
    """
    state = _state_dict(Path(path))
    missing = {"W", "b_enc", "b_dec"} - set(state)
    if missing:
        raise GenomixError(f"{path} lacks {', '.join(sorted(missing))}: not a BatchTopKTiedSAE checkpoint")
    d_in, d_sae = state["W"].shape
    sae = TopKSAE(
        d_in,
        d_sae,
        k,
        {"model_name": model_name, "hook_name": hook_name, "imported_from": "Goodfire BatchTopKTiedSAE"},
        apply_b_dec_to_input=False,
    )
    sae.set_weights({"W_enc": state["W"], "W_dec": state["W"].T, "b_enc": state["b_enc"], "b_dec": state["b_dec"]})
    return sae.eval()


def load_sae(path: str | Path, model=None, layer: str | None = None, **options) -> SAE:
    """An SAE from a genomix / SAELens folder, a dictionary_learning folder, a Goodfire `.pt` file, or
    `demo` (the demo model's SAE); with `model`, checked against it (see `SAE.check_matches`)."""
    from genomix.paths import shipped

    path = Path(shipped(path, "sae"))
    if path.is_dir() and (path / "cfg.json").exists():
        return SAE.load(path, model, layer)
    if path.is_dir() and (path / "ae.pt").exists():
        sae = import_dictionary_learning(path, **options)
    elif path.is_file() and path.suffix in (".pt", ".pth"):
        sae = import_goodfire(path, **options)
    elif path.exists():
        raise GenomixError(
            f"{path}: not an SAE (expected a folder with cfg.json + sae_weights.safetensors, "
            "a dictionary_learning folder with ae.pt, or a Goodfire .pt checkpoint)"
        )
    else:
        raise GenomixError(f"no SAE at {path}")
    if model is not None:
        sae.check_matches(model, layer)
    return sae
