"""SAE files from elsewhere: dictionary_learning's `ae.pt` (with or without its `config.json`), and the
Goodfire Evo 2 SAE checkpoint (`BatchTopKTiedSAE`, a plain state dict). `load_sae` reads any of them,
or a genomix / SAELens folder; a bare `.pt` file is told apart by the names of its tensors.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from genomix.errors import GenomixError
from genomix.sae.base import SAE, BatchTopKSAE, ReLUSAE, TopKSAE


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several kinds for files that are not tensors only
        raise GenomixError(f"cannot read {path} as a plain state dict of tensors: {error}") from error
    for wrapper in ("state_dict", "ae"):  # Lightning-style checkpoints; dictionary_learning's backups
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise GenomixError(f"{path} holds a {type(state).__name__}, not a state dict")
    clean = {}
    for key, value in state.items():  # torch.compile and DataParallel prefixes
        for prefix in ("_orig_mod.", "module."):
            while key.startswith(prefix):
                key = key[len(prefix) :]
        clean[key] = value
    return clean


# dictionary_learning's classes by the tensors their state dicts hold (AutoEncoderTopK and BatchTopKSAE
# hold the same ones: its config.json tells them apart, and a TopK SAE is assumed without it)
DICTIONARY_LEARNING_KEYS = {
    "MatryoshkaBatchTopKSAE": {"W_enc", "b_enc", "W_dec", "b_dec", "threshold", "group_sizes"},
    "JumpReluAutoEncoder": {"W_enc", "b_enc", "W_dec", "b_dec", "threshold"},
    "AutoEncoderTopK": {"encoder.weight", "encoder.bias", "decoder.weight", "b_dec", "k"},
    "AutoEncoder": {"encoder.weight", "encoder.bias", "decoder.weight", "bias"},
}
GOODFIRE_KEYS = {"W", "b_enc", "b_dec"}


def dictionary_learning_class(state: dict) -> str | None:
    """The dictionary_learning class whose state dict `state` is (by its keys), or None."""
    return next((name for name, keys in DICTIONARY_LEARNING_KEYS.items() if keys <= set(state)), None)


def import_dictionary_learning(path: str | Path, model_name: str | None = None, hook_name: str | None = None) -> SAE:
    """An SAE saved by dictionary_learning: a folder with `ae.pt` (+ `config.json`), or `ae.pt` itself.

    Its classes encode x as relu(W_e (x - b) + b_e), then: AutoEncoder keeps them all (genomix's ReLU SAE);
    AutoEncoderTopK keeps the k largest per position; BatchTopKSAE and MatryoshkaBatchTopKSAE keep what
    exceeds their learned threshold (all groups of a Matryoshka SAE, as it is saved); JumpReluAutoEncoder
    has no input bias and a threshold per feature.
    """
    path = Path(path)
    weights_file = path / "ae.pt" if path.is_dir() else path
    state = _state_dict(weights_file)
    config_file = weights_file.parent / "config.json"
    config = json.loads(config_file.read_text()) if config_file.exists() else {}
    trainer = config.get("trainer", config)
    found = dictionary_learning_class(state)
    dict_class = trainer.get("dict_class", found)
    if dict_class == "BatchTopKSAE" and found == "AutoEncoderTopK":
        found = "BatchTopKSAE"
    if dict_class is None:
        raise GenomixError(
            f"{weights_file} holds no dictionary_learning SAE (its tensors: {', '.join(sorted(state)) or 'none'})"
        )
    if dict_class not in (*DICTIONARY_LEARNING_KEYS, "BatchTopKSAE"):
        raise GenomixError(
            f"{path}: dictionary_learning's {dict_class} is not one genomix imports; it imports "
            f"{', '.join([*DICTIONARY_LEARNING_KEYS, 'BatchTopKSAE'])}"
        )
    if found != dict_class:
        raise GenomixError(
            f"{weights_file} does not hold a dictionary_learning {dict_class} "
            f"(its tensors: {', '.join(sorted(state)) or 'none'})"
        )
    layer = trainer.get("layer")
    metadata = {
        "model_name": model_name or trainer.get("lm_name"),
        "imported_from": f"dictionary_learning {dict_class}",
        "hook_name": hook_name or (f"blocks.{layer}" if layer is not None else None),
    }
    metadata = {key: value for key, value in metadata.items() if value is not None}
    if dict_class in ("MatryoshkaBatchTopKSAE", "JumpReluAutoEncoder"):
        weights = {name: state[name] for name in ("W_enc", "W_dec", "b_enc", "b_dec")}
    else:
        weights = {"W_enc": state["encoder.weight"].T, "W_dec": state["decoder.weight"].T}
        weights |= {"b_enc": state["encoder.bias"], "b_dec": state["bias" if dict_class == "AutoEncoder" else "b_dec"]}
    d_in, d_sae = weights["W_enc"].shape
    k = int(state["k"]) if "k" in state else int(trainer.get("k", 0))
    if dict_class == "AutoEncoder":
        sae = ReLUSAE(d_in, d_sae, 0, metadata, apply_b_dec_to_input=True)
    elif dict_class == "AutoEncoderTopK":
        sae = TopKSAE(d_in, d_sae, k, metadata, apply_b_dec_to_input=True)
    else:  # relu(pre) kept above the threshold; a threshold below 0 (never learned) keeps every positive one
        sae = BatchTopKSAE(d_in, d_sae, k, metadata, apply_b_dec_to_input=dict_class != "JumpReluAutoEncoder")
        weights["threshold"] = state["threshold"].float().reshape(-1).clamp_min(0)
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
    """An SAE from a genomix / SAELens folder, a dictionary_learning folder or `ae.pt`, a Goodfire `.pt`
    file, or `demo` (the demo model's SAE); with `model`, checked against it (see `SAE.check_matches`).
    `options` go to the importer (model_name, hook_name; k for Goodfire's)."""
    from genomix.paths import shipped

    path = Path(shipped(path, "sae"))
    if path.is_dir() and (path / "cfg.json").exists():
        return SAE.load(path, model, layer)
    if path.is_dir() and (path / "ae.pt").exists():
        sae = import_dictionary_learning(path, **options)
    elif path.is_file() and path.suffix in (".pt", ".pth"):
        state = _state_dict(path)
        if dictionary_learning_class(state) is not None:
            sae = import_dictionary_learning(path, **options)
        elif GOODFIRE_KEYS <= set(state):
            sae = import_goodfire(path, **options)
        else:
            raise GenomixError(
                f"{path}: its tensors ({', '.join(sorted(state)) or 'none'}) are neither a dictionary_learning SAE's "
                "nor the Goodfire Evo 2 SAE's (W, b_enc, b_dec)"
            )
    elif path.exists():
        raise GenomixError(
            f"{path}: not an SAE (expected a folder with cfg.json + sae_weights.safetensors, "
            "a dictionary_learning folder or ae.pt, or a Goodfire .pt checkpoint)"
        )
    else:
        raise GenomixError(f"no SAE at {path}")
    if model is not None:
        sae.check_matches(model, layer)
    return sae
