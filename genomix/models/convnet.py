"""A dilated residual convolutional masked LM over single nucleotides (the GPN ConvNet / ByteNet family).

Registered with transformers' Auto classes, so a saved folder loads with
`AutoModelForMaskedLM.from_pretrained(folder)` once genomix is imported, and through
genomix's `hf-mlm` backend like any other masked LM. The demo model is one of these.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForMaskedLM, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import MaskedLMOutput

DNA_VOCABULARY = ["<pad>", "<mask>", "<unk>", "A", "C", "G", "T", "N"]


class ConvNetConfig(PretrainedConfig):
    model_type = "genomix-convnet"

    def __init__(
        self,
        vocab_size: int = len(DNA_VOCABULARY),
        hidden_size: int = 128,
        num_hidden_layers: int = 8,
        intermediate_size: int = 256,
        kernel_size: int = 9,
        dilations: list[int] | None = None,
        pad_token_id: int = 0,
        mask_token_id: int = 1,
        **kwargs,
    ):
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.intermediate_size = intermediate_size
        self.kernel_size = kernel_size
        self.dilations = list(dilations or [1, 2, 4, 8, 16, 32, 1, 2][:num_hidden_layers])
        self.mask_token_id = mask_token_id


class ConvBlock(nn.Module):
    """Dilated convolution then a position-wise MLP, each residual with a LayerNorm."""

    def __init__(self, config: ConvNetConfig, dilation: int):
        super().__init__()
        width = config.hidden_size
        self.conv = nn.Conv1d(width, width, config.kernel_size, dilation=dilation, padding="same")
        self.conv_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, config.intermediate_size), nn.GELU(), nn.Linear(config.intermediate_size, width)
        )
        self.mlp_norm = nn.LayerNorm(width)

    def forward(self, hidden: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        # Padding is zeroed before the convolution, so a padded sequence equals the unpadded one.
        convolved = self.conv((hidden * keep).transpose(1, 2)).transpose(1, 2)
        hidden = hidden + self.conv_norm(nn.functional.gelu(convolved))
        return hidden + self.mlp_norm(self.mlp(hidden))


class ConvNetPreTrainedModel(PreTrainedModel):
    config_class = ConvNetConfig
    base_model_prefix = "convnet"

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class ConvNetModel(ConvNetPreTrainedModel):
    def __init__(self, config: ConvNetConfig):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(ConvBlock(config, d) for d in config.dilations)
        self.final_norm = nn.LayerNorm(config.hidden_size)
        self.post_init()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states `[batch, length, hidden_size]`."""
        keep = (attention_mask if attention_mask is not None else torch.ones_like(input_ids)).unsqueeze(-1)
        hidden = self.embeddings(input_ids) * keep
        for layer in self.layers:
            hidden = layer(hidden, keep.to(hidden.dtype))
        return self.final_norm(hidden)


class ConvNetForMaskedLM(ConvNetPreTrainedModel):
    def __init__(self, config: ConvNetConfig):
        super().__init__(config)
        self.convnet = ConvNetModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> MaskedLMOutput:
        logits = self.lm_head(self.convnet(input_ids, attention_mask))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100
            )
        return MaskedLMOutput(loss=loss, logits=logits)


def dna_tokenizer():
    """A character-level tokenizer over DNA_VOCABULARY (no special tokens added), as transformers saves it."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(DNA_VOCABULARY)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", mask_token="<mask>", unk_token="<unk>")


AutoConfig.register(ConvNetConfig.model_type, ConvNetConfig, exist_ok=True)
AutoModelForMaskedLM.register(ConvNetConfig, ConvNetForMaskedLM, exist_ok=True)
