"""The `spliceai` backend: the five trained SpliceAI-10k models of Illumina's `spliceai` package, read
with h5py from the package's own Keras files and run in torch as one ensemble.

genomix neither ships nor copies the weights (the package is GPLv3): install it with
`pip install --no-deps spliceai h5py` (its TensorFlow is not needed). Each model is a dilated residual
ConvNet over one-hot DNA (A, C, G, T; N is all zeros): a 1-wide convolution to 32 channels, 16
residual units (batch norm, ReLU, convolution, twice; kernel/dilation 11/1, 11/4, 21/10, 41/25, four
units each), a skip sum of 1-wide convolutions after every fourth unit, 5,000 bp cropped on each
side and a softmax over (neither, acceptor, donor). Its outputs at a position read exactly the
5,000 bp either side of it. The five models run side by side as grouped convolutions, so the
residual stream after unit i (`blocks.{i}`) is the five models' 32 channels each, 160 wide
(model m's channels at 32 (m - 1) .. 32 m).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from genomix.errors import GenomixError
from genomix.models.base import TokenBatch, register_backend

N_MODELS = 5
FLANK = 5000
"""Bases of context SpliceAI reads (and crops) on each side of an output position."""
CLASSES = ("neither", "acceptor", "donor")
INSTALL = "pip install --no-deps spliceai h5py"
_TOKENS = "ACGTN"


def model_files() -> list[Path]:
    """The five `spliceai{1..5}.h5` of the installed `spliceai` package (found without importing it:
    its `__init__` needs setuptools and its utils need TensorFlow, neither of which genomix uses)."""
    spec = importlib.util.find_spec("spliceai")
    folders = [] if spec is None or not spec.submodule_search_locations else list(spec.submodule_search_locations)
    files = [Path(folders[0]) / "models" / f"spliceai{m}.h5" for m in range(1, N_MODELS + 1)] if folders else []
    if not files or not all(path.exists() for path in files):
        raise GenomixError(
            f"the spliceai model needs Illumina's spliceai package (its trained weights, GPLv3): `{INSTALL}`"
        )
    try:
        import h5py  # noqa: F401
    except ImportError as error:
        raise GenomixError(f"reading SpliceAI's Keras files needs h5py: `{INSTALL}`") from error
    return files


@dataclass
class _Conv:
    weight: torch.Tensor  # [out, in, kernel] (torch's layout)
    bias: torch.Tensor
    dilation: int = 1


@dataclass
class _Norm:
    scale: torch.Tensor  # batch norm at inference, as one affine map per channel
    shift: torch.Tensor


@dataclass
class _Unit:
    norm1: _Norm
    conv1: _Conv
    norm2: _Norm
    conv2: _Conv
    dense: _Conv | None  # the skip connection's 1-wide convolution after this unit, if any


def _read_keras(path: Path) -> tuple[_Conv, _Conv, list[_Unit], _Conv]:
    """One Keras SpliceAI file as (input conv, first skip conv, residual units, output conv), found by
    walking the saved layer graph from the input, not by layer names."""
    import h5py

    with h5py.File(path, "r") as handle:
        graph = json.loads(handle.attrs["model_config"])["config"]
        weights = handle["model_weights"]
        layers = {layer["name"]: layer for layer in graph["layers"]}
        consumers: dict[str, list[str]] = {name: [] for name in layers}
        for name, layer in layers.items():
            for node in layer["inbound_nodes"]:
                for inbound in node:
                    consumers[inbound[0]].append(name)

        def values(name: str, *parts: str) -> list[np.ndarray]:
            return [np.asarray(weights[name][f"{name}/{part}:0"], dtype=np.float32) for part in parts]

        def conv(name: str) -> _Conv:
            kernel, bias = values(name, "kernel", "bias")
            config = layers[name]["config"]
            if layers[name]["class_name"] != "Conv1D" or config["padding"] not in ("same", "valid"):
                raise GenomixError(f"{path} is not a SpliceAI model: {name} is not a convolution SpliceAI uses")
            return _Conv(
                torch.from_numpy(kernel.transpose(2, 1, 0).copy()), torch.from_numpy(bias), config["dilation_rate"][0]
            )

        def norm(name: str) -> _Norm:
            gamma, beta, mean, variance = values(name, "gamma", "beta", "moving_mean", "moving_variance")
            scale = gamma / np.sqrt(variance + np.float32(layers[name]["config"]["epsilon"]))
            return _Norm(torch.from_numpy(scale), torch.from_numpy(beta - mean * scale))

        def next_of(name: str, kind: str, kernel: int | None = None) -> str | None:
            found = [
                c
                for c in consumers[name]
                if layers[c]["class_name"] == kind
                and (kernel is None or layers[c]["config"]["kernel_size"][0] == kernel)
            ]
            return found[0] if found else None

        stream = next_of(graph["input_layers"][0][0], "Conv1D")
        first, skip = conv(stream), conv(next_of(stream, "Conv1D", 1))
        units = []
        while (norm1 := next_of(stream, "BatchNormalization")) is not None:
            conv1 = next_of(next_of(norm1, "Activation"), "Conv1D")
            norm2 = next_of(conv1, "BatchNormalization")
            conv2 = next_of(next_of(norm2, "Activation"), "Conv1D")
            stream = next_of(conv2, "Add")
            dense = next_of(stream, "Conv1D", 1)
            units.append(_Unit(norm(norm1), conv(conv1), norm(norm2), conv(conv2), conv(dense) if dense else None))
        output = graph["output_layers"][0][0]
        if len(units) != 16 or layers[output]["config"]["activation"] != "softmax":
            raise GenomixError(f"{path} is not a SpliceAI-10k model (found {len(units)} residual units, not 16)")
        return first, skip, units, conv(output)


def _stack(convs: list[_Conv]) -> _Conv:
    """The models' convolutions as one grouped convolution (or, for the first, one that all read the
    same one-hot input)."""
    return _Conv(torch.cat([c.weight for c in convs]), torch.cat([c.bias for c in convs]), convs[0].dilation)


def _stack_norms(norms: list[_Norm]) -> _Norm:
    return _Norm(torch.cat([n.scale for n in norms]), torch.cat([n.shift for n in norms]))


@register_backend("spliceai")
class SpliceAIModel:
    """SpliceAI's five-model ensemble as a GenomicModel. `forward` gives, per base, the log of the
    ensemble's mean (neither, acceptor, donor) probabilities: only bases at least 5,000 bp from both ends
    of the input read real sequence (SpliceAI crops the rest; `splice_probabilities` does)."""

    kind = "splice"
    names = ("spliceai",)
    context_bp = None
    mask_token_id = None
    pad_token_id = _TOKENS.index("N")
    reverse = False  # read sequences on their reverse strand (see `reading_reverse`)

    def __init__(
        self,
        name_or_path: str = "spliceai",
        device: str | None = None,
        trust_remote_code: bool = False,
        models: tuple[int, ...] = tuple(range(1, N_MODELS + 1)),
        dtype: str | None = None,
    ):
        """`models`: which of the five (1-5) make the ensemble; SpliceAI's scores average all five. `dtype`:
        auto or float32 (SpliceAI's delta scores are differences of probabilities; it is small enough to run in
        float32 anywhere)."""
        self.name = str(name_or_path)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if dtype not in (None, "auto", "float32", torch.float32):
            raise GenomixError(f"spliceai runs in float32 only, not {dtype}; use dtype=float32", option="dtype")
        self.dtype = torch.float32
        files = model_files()
        read = [_read_keras(files[m - 1]) for m in models]
        self.n_models = len(read)
        self.d_model = 32 * self.n_models
        on = self.device

        def moved(conv: _Conv) -> _Conv:
            return _Conv(conv.weight.to(on), conv.bias.to(on), conv.dilation)

        self.first = moved(_stack([r[0] for r in read]))
        self.skip = moved(_stack([r[1] for r in read]))
        self.units = []
        for i in range(len(read[0][2])):
            per_model = [r[2][i] for r in read]
            norm1, norm2 = _stack_norms([u.norm1 for u in per_model]), _stack_norms([u.norm2 for u in per_model])
            dense = moved(_stack([u.dense for u in per_model])) if per_model[0].dense is not None else None
            self.units.append(
                _Unit(
                    _Norm(norm1.scale.to(on), norm1.shift.to(on)),
                    moved(_stack([u.conv1 for u in per_model])),
                    _Norm(norm2.scale.to(on), norm2.shift.to(on)),
                    moved(_stack([u.conv2 for u in per_model])),
                    dense,
                )
            )
        self.output = moved(_stack([r[3] for r in read]))
        self.layers = [f"blocks.{i}" for i in range(len(self.units))]

    @classmethod
    def claims(cls, source, config) -> bool:
        return False  # loaded by its name only (`names`)

    def named_parameters(self):
        """(name, tensor) of every weight, the five models side by side (as torch modules name theirs)."""
        convs = {"first": self.first, "skip": self.skip, "output": self.output}
        for index, unit in enumerate(self.units):
            convs |= {f"units.{index}.conv1": unit.conv1, f"units.{index}.conv2": unit.conv2}
            if unit.dense is not None:
                convs[f"units.{index}.dense"] = unit.dense
            for part, norm in (("norm1", unit.norm1), ("norm2", unit.norm2)):
                yield f"units.{index}.{part}.scale", norm.scale
                yield f"units.{index}.{part}.shift", norm.shift
        for name, conv in convs.items():
            yield f"{name}.weight", conv.weight
            yield f"{name}.bias", conv.bias

    def token_id(self, bases: str) -> int | None:
        return _TOKENS.index(bases) if len(bases) == 1 and bases in _TOKENS else None

    def tokenize(self, seqs: list[str]) -> TokenBatch:
        """One token per base (A, C, G, T, N), right-padded with N; padding never changes the outputs."""
        longest = max(len(seq) for seq in seqs)
        lookup = np.full(256, self.pad_token_id, dtype=np.int64)
        for index, base in enumerate(_TOKENS):
            lookup[ord(base)] = index
        input_ids = np.full((len(seqs), longest), self.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((len(seqs), longest), dtype=np.int64)
        spans = []
        for row, seq in enumerate(seqs):
            input_ids[row, : len(seq)] = lookup[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
            attention_mask[row, : len(seq)] = 1
            spans.append(np.stack([np.arange(len(seq)), np.arange(1, len(seq) + 1)], axis=1))
        return TokenBatch(torch.from_numpy(input_ids), torch.from_numpy(attention_mask), spans)

    def _conv(self, hidden: torch.Tensor, conv: _Conv, groups: int | None = None) -> torch.Tensor:
        padding = conv.dilation * (conv.weight.shape[-1] - 1) // 2  # Keras' `same`, for odd kernels
        return F.conv1d(
            hidden, conv.weight, conv.bias, padding=padding, dilation=conv.dilation, groups=groups or self.n_models
        )

    @staticmethod
    def _norm_relu(hidden: torch.Tensor, norm: _Norm) -> torch.Tensor:
        return torch.relu(hidden * norm.scale[:, None] + norm.shift[:, None])

    def forward(
        self,
        tokens: TokenBatch,
        layers: tuple[str, ...] = (),
        edits: dict[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
        logits: bool = True,
        grad: bool = False,
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """`grad`: keep the graph, so that an output can be differentiated by an edited layer (explain's
        attribution); otherwise the pass runs in inference mode."""
        with torch.enable_grad() if grad else torch.inference_mode():
            probabilities, captured = self._run(tokens, layers, edits, logits)
            # floored at the smallest normal float: a probability that underflows to 0 keeps a finite log and gradient
            floor = torch.finfo(torch.float32).tiny
            return (None if probabilities is None else torch.log(probabilities.clamp_min(floor))), captured

    def reach(self, layer: str) -> int:
        """bp either side of a base that the residual stream at `layer` reads (each unit's two convolutions
        add (kernel - 1) x dilation)."""
        units = self.layers.index(layer) + 1
        return sum((unit.conv1.weight.shape[-1] - 1) * unit.conv1.dilation for unit in self.units[:units])

    @contextmanager
    def reading_reverse(self, reverse: bool = True):
        """Within the block, `forward` reads each sequence on its reverse strand, where the splice sites of
        a minus-strand gene are: SpliceAI runs on the reverse complement, and its outputs and captured
        layers come back flipped to the forward positions (an edit sees and returns them there), so that a
        caller's token indices stay those of the sequence it passed."""
        before, self.reverse = self.reverse, reverse
        try:
            yield self
        finally:
            self.reverse = before

    def _run(self, tokens: TokenBatch, layers: tuple[str, ...], edits: dict | None, logits: bool):
        """The ensemble's mean probabilities `[batch, tokens, 3]` (None without logits), and the captured
        layers. Reversed (`reading_reverse`), a padded row is read from its padding end: the padding is
        zeroed before every convolution, so it reads as the unpadded reverse complement."""
        unknown = [layer for layer in (*layers, *(edits or {})) if layer not in self.layers]
        if unknown:
            raise GenomixError(f"{self.name} has no layer {unknown[0]!r}; it has {self.layers[0]} .. {self.layers[-1]}")
        if not logits and not layers:
            raise GenomixError("a pass without logits needs a layer to capture")
        ids, keep = tokens.input_ids.to(self.device), tokens.attention_mask.to(self.device, torch.float32)
        if self.reverse:  # A, C, G, T, N -> T, G, C, A, N, read from the other end
            ids, keep = torch.tensor([3, 2, 1, 0, 4], device=self.device)[ids].flip(1), keep.flip(1)
        flip = (lambda x: x.flip(1)) if self.reverse else (lambda x: x)  # [batch, tokens, ...] to forward and back
        one_hot = torch.eye(len(_TOKENS), 4, device=self.device)[ids]
        keep = keep[:, None, :]
        last = len(self.layers) if logits else max(self.layers.index(layer) for layer in layers)
        stream = self._conv(one_hot.transpose(1, 2), self.first, groups=1)
        skip = self._conv(stream, self.skip)
        captured: dict[str, torch.Tensor] = {}
        for index, unit in enumerate(self.units[: last + 1]):
            # Zeroing padded bases before each wide convolution makes a padded input read as the unpadded one.
            hidden = self._conv(self._norm_relu(stream, unit.norm1) * keep, unit.conv1)
            stream = stream + self._conv(self._norm_relu(hidden, unit.norm2) * keep, unit.conv2)
            layer = self.layers[index]
            if layer in layers:
                captured[layer] = flip(stream.transpose(1, 2))
            if edits and layer in edits:
                stream = flip(edits[layer](flip(stream.transpose(1, 2)))).transpose(1, 2)
            if unit.dense is not None:
                skip = skip + self._conv(stream, unit.dense)
        if not logits:
            return None, captured
        per_model = self._conv(skip, self.output).unflatten(1, (self.n_models, len(CLASSES)))
        return flip(torch.softmax(per_model, dim=2).mean(dim=1).transpose(1, 2)), captured

    def splice_probabilities(self, seqs: list[str], batch_size: int = 8) -> list[np.ndarray]:
        """SpliceAI's output for each sequence: the ensemble's mean (neither, acceptor, donor)
        probabilities `[len(seq) - 10000, 3]` of its bases from the 5,001st to the 5,001st from the end.
        `batch_size`: sequences of about 11 kb per batch (fewer when longer); results do not depend on it."""
        if seqs and min(len(seq) for seq in seqs) <= 2 * FLANK:
            raise GenomixError(f"SpliceAI needs more than {2 * FLANK} bp: {FLANK} of context on each side")
        results: list[np.ndarray] = [None] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        budget = batch_size * (2 * FLANK + 1000)  # bases per batch, so that long sequences go a few at a time
        chunks: list[list[int]] = [[]]
        for i in order:
            if chunks[-1] and (len(chunks[-1]) + 1) * len(seqs[i]) > budget:
                chunks.append([])
            chunks[-1].append(i)
        for chunk in chunks if order else []:
            with torch.inference_mode():
                probabilities, _ = self._run(self.tokenize([seqs[i] for i in chunk]), (), None, True)
            for row, i in enumerate(chunk):
                results[i] = probabilities[row, FLANK : len(seqs[i]) - FLANK].float().cpu().numpy()
        return results

    def __repr__(self) -> str:
        return f"SpliceAIModel({self.name!r}, models={self.n_models}, layers={len(self.layers)})"
