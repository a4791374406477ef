"""Sparse autoencoders over a DNA model's activations at one layer: TopK, BatchTopK and ReLU.

Both encode each position on its own: TopK keeps the k largest pre-activations of that
position; BatchTopK trains with a top-k over the whole batch and encodes with a learned
threshold. A feature's activation at a position therefore never depends on the rest of the
window (the public Evo 2 SAE's window-level top-k is the pitfall this avoids).

Saved as SAELens saves: `cfg.json` + `sae_weights.safetensors` (`W_enc [d_in, d_sae]`,
`W_dec [d_sae, d_in]`, `b_enc`, `b_dec`, and `threshold` for BatchTopK, which SAELens reads
as the JumpReLU SAE it is at inference). SAELens' own `topk`, `jumprelu` and `standard` (ReLU)
files load too, TopK ones saved with `rescale_acts_by_decoder_norm` included.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from genomix.errors import GenomixError
from genomix.io.outputs import written_whole
from genomix.models.base import model_fingerprint, residual_layer
from genomix.models.base import weights_of as _weights_of

# SAELens reads a cfg.json in its 6.x layout, metadata included, only when `metadata.sae_lens_version`
# says 6.0 or later; without it the file goes through its pre-6 conversion, which drops the metadata.
SAELENS_FORMAT_VERSION = "6.0.0"

ARCHITECTURES: dict[str, type[SAE]] = {}


def register_architecture(cls: type[SAE]) -> type[SAE]:
    ARCHITECTURES[cls.architecture] = cls
    return cls


class SAE(nn.Module):
    """x -> f = encode(x) (sparse, non-negative, `[..., d_sae]`) -> decode(f) = f W_dec + b_dec.

    `metadata` records what the SAE belongs to: `model_name`, `hook_name` (a genomix layer name,
    `blocks.i`), `model_fingerprint`, and how it was trained.
    """

    architecture = ""
    saved_architecture = ""  # the SAELens architecture name it is saved under

    def __init__(
        self,
        d_in: int,
        d_sae: int,
        k: int,
        metadata: dict | None = None,
        apply_b_dec_to_input: bool = True,
        seed: int = 0,
    ):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        decoder = torch.randn(d_sae, d_in, generator=generator)
        decoder /= decoder.norm(dim=1, keepdim=True)
        self.W_dec = nn.Parameter(decoder)
        self.W_enc = nn.Parameter(decoder.T.clone())
        self.b_enc = nn.Parameter(torch.zeros(d_sae))
        self.b_dec = nn.Parameter(torch.zeros(d_in))
        self.d_in, self.d_sae, self.k = d_in, d_sae, k
        self.apply_b_dec_to_input = apply_b_dec_to_input
        self.metadata = dict(metadata or {})
        hook = self.metadata.get("hook_name")
        if hook and residual_layer(hook) != hook:  # a TransformerLens name: bind to the genomix layer, keep the name
            self.metadata |= {"hook_name": residual_layer(hook), "transformer_lens_hook_name": hook}

    def pre_activations(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder pre-activations `[..., d_sae]`, or of `features` only."""
        if self.apply_b_dec_to_input:
            x = x - self.b_dec
        if features is None:
            return x @ self.W_enc + self.b_enc
        return x @ self.W_enc[:, features] + self.b_enc[features]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Feature activations `[..., d_sae]`, each position on its own."""
        raise NotImplementedError

    def encode_features(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """The activations of `features` only, `[..., len(features)]` (the same as `encode(x)[..., features]`)."""
        return self.encode(x)[..., features]

    def encode_for_training(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(codes used for the training loss, ReLU'd pre-activations for the auxiliary loss) of `[n, d_in]`."""
        return self.encode(x), torch.relu(self.pre_activations(x))

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        return f @ self.W_dec + self.b_dec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8)

    def remove_parallel_gradient(self) -> None:
        """Drop the part of W_dec's gradient along each (unit) decoder row, so a step keeps rows unit norm."""
        if self.W_dec.grad is not None:
            rows = self.W_dec.data
            self.W_dec.grad -= (self.W_dec.grad * rows).sum(dim=1, keepdim=True) * rows

    @torch.no_grad()
    def fold_input_scale(self, scale: float) -> None:
        """Make an SAE trained on `x * scale` read `x` itself (SAELens' folding of its norm scaling)."""
        self.W_enc *= scale
        self.W_dec /= scale
        self.b_dec /= scale

    # ------------------------------------------------------------------ files

    def config(self) -> dict:
        """SAELens' cfg.json fields, with genomix's own in `metadata`."""
        return {
            "architecture": self.saved_architecture or self.architecture,
            "d_in": self.d_in,
            "d_sae": self.d_sae,
            "dtype": "float32",
            "device": "cpu",
            "apply_b_dec_to_input": self.apply_b_dec_to_input,
            "normalize_activations": "none",
            "reshape_activations": "none",
            "k": self.k,
            "metadata": {
                "hook_head_index": None,
                "prepend_bos": False,
                **self.metadata,
                "sae_lens_version": SAELENS_FORMAT_VERSION,
                "genomix_architecture": self.architecture,
            },
        }

    def weights(self) -> dict[str, torch.Tensor]:
        return {"W_enc": self.W_enc.data, "W_dec": self.W_dec.data, "b_enc": self.b_enc.data, "b_dec": self.b_dec.data}

    def save(self, folder: str | Path) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with written_whole([folder / "sae_weights.safetensors", folder / "cfg.json"]) as (weights, cfg):
            save_file({name: t.detach().cpu().contiguous() for name, t in self.weights().items()}, weights)
            cfg.write_text(json.dumps(self.config(), indent=1) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path, model=None, layer: str | None = None) -> SAE:
        """Load a saved SAE; with `model` (and `layer`), check it belongs to them."""
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / "cfg.json").is_file() or not (folder / "sae_weights.safetensors").is_file():
            raise GenomixError(f"{folder} is not an SAE folder (it needs cfg.json and sae_weights.safetensors)")
        cfg = json.loads((folder / "cfg.json").read_text())
        metadata = dict(cfg.get("metadata") or {})
        for key in ("model_name", "hook_name"):  # older SAELens files keep these at the top level
            if key in cfg and key not in metadata:
                metadata[key] = cfg[key]
        if cfg.get("normalize_activations", "none") not in ("none", None):
            raise GenomixError(
                f"{folder}: this SAE normalises its inputs (normalize_activations="
                f"{cfg['normalize_activations']!r}); fold the normalisation into its weights and save it with 'none'"
            )
        name = metadata.pop("genomix_architecture", None) or cfg["architecture"]
        if name not in ARCHITECTURES:
            raise GenomixError(
                f"{folder}: unknown SAE architecture {name!r}; genomix reads {', '.join(sorted(ARCHITECTURES))}"
            )
        weights = load_file(folder / "sae_weights.safetensors")
        sae = ARCHITECTURES[name](
            cfg["d_in"],
            cfg["d_sae"],
            int(cfg.get("k") or 0),
            metadata,
            apply_b_dec_to_input=cfg.get("apply_b_dec_to_input", True),
        )
        sae.set_weights(weights)
        # SAELens applies this flag in its TopK SAE only (its other inference classes have no such field):
        # pre-activations times each decoder row's norm before the top k, activations over it when decoding
        if cfg.get("rescale_acts_by_decoder_norm") and cfg["architecture"] == "topk":
            sae.fold_decoder_norm()
        if model is not None:
            sae.check_matches(model, layer)
        return sae.eval()

    @torch.no_grad()
    def fold_decoder_norm(self) -> None:
        """Give every decoder row unit norm, scaling its encoder column and bias by the row's norm: the
        same features, and reconstruction, as SAELens' `rescale_acts_by_decoder_norm` computes."""
        norms = self.W_dec.norm(dim=1).clamp_min(1e-8)
        self.W_dec /= norms[:, None]
        self.W_enc *= norms
        self.b_enc *= norms

    def set_weights(self, weights: dict[str, torch.Tensor]) -> None:
        for name, parameter in (
            ("W_enc", self.W_enc),
            ("W_dec", self.W_dec),
            ("b_enc", self.b_enc),
            ("b_dec", self.b_dec),
        ):
            if tuple(weights[name].shape) != tuple(parameter.shape):
                raise GenomixError(
                    f"SAE weight {name} has shape {tuple(weights[name].shape)}, expected {tuple(parameter.shape)}"
                )
            parameter.data = weights[name].to(torch.float32).clone()

    def check_matches(self, model, layer: str | None = None) -> None:
        """Error unless this SAE was trained on `model` (same d_model and weights) at `layer`."""
        hook = self.metadata.get("hook_name")
        trained_on = self.metadata.get("model_name", "an unrecorded model")
        if self.d_in != model.d_model:
            raise GenomixError(
                f"this SAE reads {self.d_in}-wide activations ({trained_on}, {hook}); "
                f"{model.name} is {model.d_model} wide"
            )
        if hook is not None and hook not in model.layers:
            raise GenomixError(f"this SAE was trained at {hook} of {trained_on}; {model.name} has no such layer")
        if layer is not None and hook is not None and residual_layer(str(layer)) != hook:
            raise GenomixError(f"this SAE was trained at {hook}, not {layer}; use its layer or train one for {layer}")
        fingerprint = self.metadata.get("model_fingerprint")
        weighed = hasattr(_weights_of(model), "named_parameters")
        if fingerprint is not None and weighed and fingerprint != model_fingerprint(model):
            raise GenomixError(
                f"this SAE was trained on {trained_on}, whose weights differ from {model.name}'s; "
                "load the model it was trained on, or train an SAE for this one"
            )


@register_architecture
class TopKSAE(SAE):
    """Keeps the k largest pre-activations of each position (ReLU'd)."""

    architecture = "topk"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.pre_activations(x)
        top = pre.topk(self.k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))


@register_architecture
class ReLUSAE(SAE):
    """relu of the pre-activations, each position on its own (SAELens' `standard` SAE, dictionary_learning's
    `AutoEncoder`); `k` is unused (0)."""

    architecture = "standard"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.pre_activations(x))

    def encode_features(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.pre_activations(x, features))


@register_architecture
class BatchTopKSAE(SAE):
    """Trains with the k x n largest activations of a batch of n positions; encodes with a threshold,
    the running mean of the smallest activation kept in training (BatchTopK, arXiv 2412.06410)."""

    architecture = "batchtopk"
    saved_architecture = "jumprelu"

    def __init__(
        self,
        d_in: int,
        d_sae: int,
        k: int,
        metadata: dict | None = None,
        apply_b_dec_to_input: bool = True,
        seed: int = 0,
    ):
        super().__init__(d_in, d_sae, k, metadata, apply_b_dec_to_input, seed)
        self.register_buffer("threshold", torch.zeros(d_sae))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        pre = torch.relu(self.pre_activations(x))
        return pre * (pre > self.threshold)

    def encode_features(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Each feature's activation depends on its own pre-activation only: the others are not computed."""
        pre = torch.relu(self.pre_activations(x, features))
        return pre * (pre > self.threshold[features])

    def encode_for_training(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pre = torch.relu(self.pre_activations(x))
        flat = pre.flatten()
        top = flat.topk(self.k * x.shape[0], sorted=False)
        codes = torch.zeros_like(flat).scatter(0, top.indices, top.values).view_as(pre)
        return codes, pre

    @torch.no_grad()
    def update_threshold(self, codes: torch.Tensor, beta: float = 0.999) -> None:
        active = codes[codes > 0]
        if active.numel():
            smallest = active.min()
            current = self.threshold[0]
            self.threshold.fill_(smallest if current <= 0 else beta * current + (1 - beta) * smallest)

    def weights(self) -> dict[str, torch.Tensor]:
        return super().weights() | {"threshold": self.threshold}

    def set_weights(self, weights: dict[str, torch.Tensor]) -> None:
        super().set_weights(weights)
        if "threshold" in weights:
            self.threshold.copy_(weights["threshold"].to(torch.float32).expand(self.d_sae))


ARCHITECTURES["jumprelu"] = BatchTopKSAE  # a JumpReLU SAE encodes as BatchTopK does at inference
