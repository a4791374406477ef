"""Tiny random-init DNA models saved as Hugging Face folders, loaded back the way a hub id is."""

from __future__ import annotations

import itertools
from pathlib import Path

import torch

NT_SPECIALS = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]


def save_char_mlm(folder: Path, seed: int = 0) -> Path:
    """A character-level ESM masked LM (absolute positions, 256 bp context)."""
    from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["<cls>", "<pad>", "<eos>", "<unk>", "A", "C", "G", "T", "N", "<mask>"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(seed)
    config = EsmConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=260,
        position_embedding_type="absolute",
        pad_token_id=1,
        mask_token_id=9,
        token_dropout=False,
    )
    EsmForMaskedLM(config).save_pretrained(folder)
    EsmTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def save_kmer_mlm(folder: Path, seed: int = 0) -> Path:
    """A Nucleotide-Transformer-shaped ESM masked LM: 6-mer vocabulary, rotary positions."""
    from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    kmers = ["".join(p) for p in itertools.product("ATCG", repeat=6)]
    vocab = NT_SPECIALS + kmers + list("ATCGN")
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(seed)
    config = EsmConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=130,
        position_embedding_type="rotary",
        pad_token_id=1,
        mask_token_id=2,
        token_dropout=False,
    )
    EsmForMaskedLM(config).save_pretrained(folder)
    EsmTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def save_char_clm(folder: Path, seed: int = 0) -> Path:
    """A character-level causal LM (GPT-2 architecture) whose tokenizer prepends a BOS token."""
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
        n_positions=300,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_convnet(folder: Path, seed: int = 0) -> Path:
    """genomix's own dilated ConvNet masked LM (the demo model's architecture), tiny."""
    from genomix.models.convnet import ConvNetConfig, ConvNetForMaskedLM, dna_tokenizer

    torch.manual_seed(seed)
    config = ConvNetConfig(hidden_size=16, num_hidden_layers=3, intermediate_size=32, dilations=[1, 2, 4])
    ConvNetForMaskedLM(config).save_pretrained(folder)
    dna_tokenizer().save_pretrained(folder)
    return folder


GPN_KINDS = ("convnet", "bytenet", "roformer", "legacy-convnet", "legacy-roformer")


def gpn_tokenizer(folder: Path):
    """GPN's character tokenizer, made by gpn's own script (`gpn/ss/train_tokenizer_ss.py`) in `folder`."""
    import contextlib
    import runpy

    from transformers import AutoTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(folder):
        runpy.run_module("gpn.ss.train_tokenizer_ss", run_name="__main__")
    return AutoTokenizer.from_pretrained(folder / "tokenizer_ss")


def save_gpn(folder: Path, kind: str, seed: int = 0) -> Path:
    """A tiny GPN built with gpn's own classes (`kind`: one of GPN_KINDS) and tokenizer, saved as gpn saves
    it. Weights are drawn wide (std 0.3) so that scores are far from zero."""
    from gpn.legacy import ConvNetConfig, ConvNetForMaskedLM, GPNRoFormerConfig, GPNRoFormerForMaskedLM
    from gpn.model import GPNConfig, GPNForMaskedLM

    tokenizer = gpn_tokenizer(folder / "tokenizer-script")
    torch.manual_seed(seed)
    small = {"hidden_size": 16, "intermediate_size": 32}
    roformer = {"num_hidden_layers": 2, "num_attention_heads": 2, **small}
    model = {
        "convnet": lambda: GPNForMaskedLM(GPNConfig(encoder="convnet", num_hidden_layers=3, **small)),
        "bytenet": lambda: GPNForMaskedLM(GPNConfig(encoder="bytenet", num_hidden_layers=3, **small)),
        "roformer": lambda: GPNForMaskedLM(GPNConfig(encoder="roformer", **roformer)),
        "legacy-convnet": lambda: ConvNetForMaskedLM(ConvNetConfig(n_layers=3, hidden_size=16)),
        "legacy-roformer": lambda: GPNRoFormerForMaskedLM(GPNRoFormerConfig(vocab_size=7, **roformer)),
    }[kind]()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.3)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


BPE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def bpe_tokenizer(vocab_size: int = 96, bases: int = 200_000):
    """A BPE tokenizer trained with `tokenizers` on the first `bases` of the demo genome (1 kb pieces), wrapped
    as BERT wraps one: [CLS] ... [SEP]."""
    import pysam
    from tokenizers import Tokenizer, models, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from genomix.paths import demo_dir

    with pysam.FastaFile(str(demo_dir() / "genome.fa.gz")) as fasta:
        text = fasta.fetch(fasta.references[0], 0, bases).upper()
    core = Tokenizer(models.BPE(unk_token="[UNK]"))
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=BPE_SPECIALS, initial_alphabet=list("ACGTN"))
    core.train_from_iterator((text[i : i + 1000] for i in range(0, len(text), 1000)), trainer=trainer)
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[(t, core.token_to_id(t)) for t in ("[CLS]", "[SEP]")]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def save_bpe_mlm(folder: Path, seed: int = 0) -> Path:
    """A tiny BERT masked LM over a BPE vocabulary learnt from the demo genome (as DNABERT-2 and GROVER are
    built), weights drawn wide (std 0.2) so that scores are far from zero."""
    from transformers import BertConfig, BertForMaskedLM

    tokenizer = bpe_tokenizer()
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = BertForMaskedLM(config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" not in name:
                parameter.normal_(0, 0.2)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
