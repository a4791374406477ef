"""Backends for transformers models: `hf-mlm` (masked LMs such as Nucleotide Transformer) and
`hf-clm` (causal LMs with a character-level DNA tokenizer).

Loaded by hub id or local folder through `from_pretrained`; nothing is downloaded
unless a hub id is named, and remote code runs only with `trust_remote_code=True`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

import genomix.models.convnet  # noqa: F401  (registers the genomix ConvNet with the Auto classes)
from genomix.errors import GenomixError
from genomix.models.base import TokenBatch, model_fingerprint, register_backend, resolve_dtype, widened
from genomix.models.packages import register_package_classes
from genomix.models.tokens import dna_tokenizer


class _Captured(BaseException):
    """Raised by the hook of the deepest captured layer to end a pass whose logits are not wanted
    (a BaseException, so that model code catching Exception lets it through)."""


def _quiet_transformers() -> None:
    import huggingface_hub
    import transformers

    huggingface_hub.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def read_config(source: str, trust_remote_code: bool = False):
    """The model's transformers config, with errors that say what to check."""
    from transformers import AutoConfig, PretrainedConfig

    _quiet_transformers()
    looks_local = Path(source).exists() or source.startswith((".", "/", "~")) or source.count("/") > 1
    if looks_local and not Path(source).is_dir():
        raise GenomixError(f"model folder not found: {source}. Pass a folder with config.json, a hub id, or `demo`.")
    if Path(source).is_dir() and not (Path(source) / "config.json").exists():
        raise GenomixError(f"cannot load model {source}: its folder has no config.json (save it with save_pretrained).")
    try:
        register_package_classes(PretrainedConfig.get_config_dict(source)[0].get("model_type"), source)
        return AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
    except ValueError as error:
        if "trust_remote_code" in str(error):
            raise GenomixError(
                f"{source} needs its own code to load; if you trust it, pass trust_remote_code=True.",
                option="trust_remote_code",
            ) from error
        raise GenomixError(f"cannot load model {source}: {error}") from error
    except OSError as error:
        raise GenomixError(
            f"cannot load model {source}: it is neither a local folder nor reachable on the model hub "
            "(offline? set HF_HOME to a cache that holds it, or pass the local folder)."
        ) from error


def _find_blocks(model: nn.Module, n_layers: int | None) -> nn.Module:
    """The stack of blocks: a ModuleList, or an nn.Sequential of blocks of one class (GPN's encoders),
    `n_layers` long; failing that, the longest ModuleList."""
    stacks = [
        m
        for m in model.modules()
        if isinstance(m, (nn.ModuleList, nn.Sequential))
        and len(m) > 0
        and (isinstance(m, nn.ModuleList) or len({type(block) for block in m}) == 1)
    ]
    exact = [m for m in stacks if len(m) == n_layers]
    if exact:  # the outermost one (modules() lists a parent before its children)
        return next((m for m in exact if isinstance(m, nn.ModuleList)), exact[0])
    lists = [m for m in stacks if isinstance(m, nn.ModuleList)]
    if not lists:
        raise GenomixError(f"cannot find the blocks of {type(model).__name__} to read activations from")
    return max(lists, key=len)


class HuggingFaceModel:
    """Shared loading, tokenization and hooked forward of the hf-* backends."""

    kind = "mlm"
    backend = ""
    _auto_class = "AutoModelForMaskedLM"

    def __init__(
        self, name_or_path: str, device: str | None = None, trust_remote_code: bool = False, dtype: str | None = None
    ):
        """`dtype`: auto (bfloat16 on a GPU that supports it, else float32), float32, bfloat16 or float16."""
        import transformers

        self.name = str(name_or_path)
        self.config = read_config(self.name, trust_remote_code)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(self.name, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as error:
            raise GenomixError(f"cannot load the tokenizer of {self.name}: {error}") from error
        self.tokenizer = dna_tokenizer(tokenizer, self.name)
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.mask_token_id = tokenizer.mask_token_id
        auto = getattr(transformers, self._auto_class)
        try:
            self.model = auto.from_pretrained(self.name, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as error:
            raise GenomixError(f"cannot load the weights of {self.name} as a {self.kind.upper()}: {error}") from error
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = resolve_dtype(dtype, self.device)
        if any(p.dtype != self.dtype for p in self.model.parameters() if p.is_floating_point()):
            self.weights_fingerprint = model_fingerprint(self)  # of the weights as stored, before rounding
            self.model.to(dtype=self.dtype)
        self.model.to(self.device).eval()
        n_layers = next(
            (n for n in (getattr(self.config, key, None) for key in ("num_hidden_layers", "n_layer", "n_layers")) if n),
            None,
        )
        self._blocks = _find_blocks(self.model, n_layers)
        self.layers = [f"blocks.{i}" for i in range(len(self._blocks))]
        self.d_model = int(
            getattr(self.config, "hidden_size", None) or getattr(self.config, "n_embd", None) or self.config.d_model
        )
        self.context_bp = self._context_bp()

    @classmethod
    def claims(cls, source: str, config) -> bool:
        raise NotImplementedError

    def _context_bp(self) -> int | None:
        """The longest window the config declares, in bp; None when it declares none (a convolutional or
        rotary model that takes any length)."""
        config = self.config
        tokens = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        if not tokens:
            return None
        if config.model_type == "esm" and getattr(config, "position_embedding_type", "absolute") == "absolute":
            tokens -= (config.pad_token_id or 0) + 1  # ESM's learned positions start after the padding index
        specials = len(self.tokenizer.prefix) + len(self.tokenizer.suffix)
        return (tokens - specials) * self.tokenizer.k

    def token_id(self, bases: str) -> int | None:
        return self.tokenizer.token_id(bases)

    def tokenize(self, seqs: list[str]) -> TokenBatch:
        encoded = [self.tokenizer.encode(seq) for seq in seqs]
        longest = max(len(ids) for ids, _ in encoded)
        input_ids = np.full((len(seqs), longest), self.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((len(seqs), longest), dtype=np.int64)
        for row, (ids, _) in enumerate(encoded):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        return TokenBatch(
            torch.from_numpy(input_ids), torch.from_numpy(attention_mask), [spans for _, spans in encoded]
        )

    def forward(
        self,
        tokens: TokenBatch,
        layers: tuple[str, ...] = (),
        edits: dict[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
        logits: bool = True,
        grad: bool = False,
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        with torch.inference_mode(not grad):
            return self._forward(tokens, layers, edits, logits)

    def _forward(self, tokens, layers, edits, logits):
        captured: dict[str, torch.Tensor] = {}
        handles = []
        unknown = [layer for layer in (*layers, *(edits or {})) if layer not in self.layers]
        if unknown:
            raise GenomixError(f"{self.name} has no layer {unknown[0]!r}; it has {self.layers[0]} .. {self.layers[-1]}")
        if not logits and not layers:
            raise GenomixError("a pass without logits needs a layer to capture")
        last = None if logits else max(layers, key=self.layers.index)
        for layer in layers:
            block = self._blocks[self.layers.index(layer)]

            def keep(module, inputs, output, layer=layer):
                captured[layer] = widened(output[0] if isinstance(output, tuple) else output)
                if layer == last:
                    raise _Captured

            handles.append(block.register_forward_hook(keep))
        for layer, edit in (edits or {}).items():
            block = self._blocks[self.layers.index(layer)]

            def replace(module, inputs, output, edit=edit):
                if isinstance(output, tuple):
                    return (edit(widened(output[0])).to(output[0].dtype), *output[1:])
                return edit(widened(output)).to(output.dtype)

            handles.append(block.register_forward_hook(replace))
        try:
            output = self.model(**self._model_inputs(tokens))
        except _Captured:
            return None, captured
        finally:
            for handle in handles:
                handle.remove()
        return widened(output.logits), captured

    def _model_inputs(self, tokens: TokenBatch) -> dict[str, torch.Tensor]:
        return {"input_ids": tokens.input_ids.to(self.device), "attention_mask": tokens.attention_mask.to(self.device)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, layers={len(self.layers)}, d_model={self.d_model})"


def _architectures(config) -> list[str]:
    return list(getattr(config, "architectures", None) or [])


@register_backend("hf-mlm")
class HFMaskedLM(HuggingFaceModel):
    """Any transformers masked LM with a DNA tokenizer (Nucleotide Transformer, char-level ESM, ...)."""

    kind = "mlm"
    generic = True
    _auto_class = "AutoModelForMaskedLM"

    @classmethod
    def claims(cls, source, config) -> bool:
        names = _architectures(config)
        if names:
            return any(name.endswith("ForMaskedLM") for name in names)
        return not getattr(config, "is_decoder", False)


@register_backend("hf-clm")
class HFCausalLM(HuggingFaceModel):
    """Any transformers causal LM with a character-level DNA tokenizer."""

    kind = "clm"
    generic = True
    _auto_class = "AutoModelForCausalLM"

    @classmethod
    def claims(cls, source, config) -> bool:
        names = _architectures(config)
        if names:
            return any(name.endswith(("ForCausalLM", "LMHeadModel")) for name in names)
        return bool(getattr(config, "is_decoder", False))

    reuses_prefix = True  # delta_ll continues a ref pass's cache (`forward_cached`, `forward_after`)

    @torch.inference_mode()
    def forward_cached(self, tokens: TokenBatch) -> tuple[torch.Tensor, list | None]:
        """Logits `[batch, tokens, vocab]` (float32) and the pass's keys and values, one `(keys, values)`
        `[batch, heads, tokens, head_dim]` per layer; None for the cache when the model keeps none, or keeps
        one that cannot be cut at a token (a sliding window, a recurrent state)."""
        output = self.model(
            input_ids=tokens.input_ids.to(self.device),
            attention_mask=tokens.attention_mask.to(self.device),
            use_cache=True,
        )
        cache = output["cache"] if "cache" in output else output.get("past_key_values")
        return widened(output.logits), _cut_able(cache)

    @torch.inference_mode()
    def forward_after(
        self, cache: list, rows: list[int], prefix: int, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Logits `[len(rows), s, vocab]` (float32) of `input_ids` `[len(rows), s]` continuing the first `prefix`
        tokens of the cached pass's rows `rows` (those tokens must be real ones, not padding, in each row)."""
        from transformers import DynamicCache

        index = torch.tensor(rows, device=self.device)
        past = DynamicCache(ddp_cache_data=[(k[index, :, :prefix], v[index, :, :prefix]) for k, v in cache])
        seen = torch.ones(len(rows), prefix, dtype=attention_mask.dtype)
        kwargs = {"cache" if "cache" in self._forward_parameters() else "past_key_values": past}
        output = self.model(
            input_ids=input_ids.to(self.device),
            attention_mask=torch.cat([seen, attention_mask], dim=1).to(self.device),
            use_cache=False,
            **kwargs,
        )
        return widened(output.logits)

    def _forward_parameters(self) -> set[str]:
        import inspect

        return set(inspect.signature(self.model.forward).parameters)


def _cut_able(cache) -> list | None:
    """A transformers cache as `[(keys, values)]` per layer when every layer holds all tokens' keys and values
    (a plain DynamicCache, or the legacy tuple form), else None."""
    if cache is None:
        return None
    layers = getattr(cache, "layers", None)
    if layers is not None:
        if not all(
            type(layer).__name__ == "DynamicLayer" and getattr(layer, "keys", None) is not None for layer in layers
        ):
            return None
        return [(layer.keys, layer.values) for layer in layers]
    if isinstance(cache, (tuple, list)) and all(isinstance(kv, (tuple, list)) and len(kv) == 2 for kv in cache):
        return [tuple(kv) for kv in cache]
    return None
