"""genomix's ConvNet masked LM loads the standard transformers way and ignores padding."""

import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

import genomix as gx


def test_saved_folder_loads_with_the_auto_classes(convnet_dir):
    import genomix.models.convnet  # noqa: F401  (registers the architecture)

    model = AutoModelForMaskedLM.from_pretrained(convnet_dir)
    tokenizer = AutoTokenizer.from_pretrained(convnet_dir)
    ids = tokenizer("ACGTN", return_tensors="pt")["input_ids"]
    assert ids.tolist() == [[3, 4, 5, 6, 7]]  # one token per base, no special tokens
    assert model(input_ids=ids).logits.shape == (1, 5, 8)


def test_padding_does_not_change_the_logits(convnet_dir):
    model = gx.load_model(str(convnet_dir))
    short, long = "ACGTTGCAAGGC", "GGGCCCAAATTTACGTACGTAAAC"
    together, _ = model.forward(model.tokenize([short, long]))
    alone, _ = model.forward(model.tokenize([short]))
    assert torch.allclose(together[0, : len(short)], alone[0], atol=1e-5)


def test_backend_reads_it_as_a_character_masked_lm(convnet_dir):
    model = gx.load_model(str(convnet_dir))
    assert model.backend == "hf-mlm" and model.kind == "mlm"
    assert model.tokenizer.k == 1 and model.layers == ["blocks.0", "blocks.1", "blocks.2"] and model.d_model == 16
