"""Model backends: loading through from_pretrained, DNA tokenization, activations from hooks."""

import itertools

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

import genomix as gx
from genomix.errors import GenomixError
from genomix.models.base import layer_name
from genomix.models.tokens import DnaTokenizer


def test_kmer_vocabulary_is_read_as_6mers_with_the_tokenizers_specials(kmer_mlm_dir):
    model = gx.load_model(str(kmer_mlm_dir))
    hf = AutoTokenizer.from_pretrained(kmer_mlm_dir)
    seq = "ACGTACGGATTACAGGCCTTAAGC"  # 24 bp: four 6-mers
    assert model.kind == "mlm" and model.tokenizer.k == 6
    assert model.tokenize([seq]).input_ids[0].tolist() == hf(seq)["input_ids"]


def test_kmer_holding_n_and_the_remainder_become_single_bases(kmer_mlm_dir):
    model = gx.load_model(str(kmer_mlm_dir))
    vocab = AutoTokenizer.from_pretrained(kmer_mlm_dir).get_vocab()
    batch = model.tokenize(["ACGTAC" + "GTNACG" + "TTT"])
    expected = ["<cls>", "ACGTAC", "G", "T", "N", "A", "C", "G", "T", "T", "T", "<eos>"]
    assert batch.input_ids[0].tolist() == [vocab[t] for t in expected]
    assert batch.spans[0].tolist() == [[-1, -1], [0, 6]] + [[i, i + 1] for i in range(6, 15)] + [[-1, -1]]


def test_tokenizer_that_splits_on_whitespace_only_still_gets_kmer_ids(kmer_mlm_dir):
    # Some transformers releases split an ESM 6-mer vocabulary on whitespace only.
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = AutoTokenizer.from_pretrained(kmer_mlm_dir).get_vocab()
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(
        single="<cls> $A <eos>", special_tokens=[("<cls>", vocab["<cls>"]), ("<eos>", vocab["<eos>"])]
    )
    whitespace_only = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>")
    assert whitespace_only("ACGTACGGATTA")["input_ids"] == [vocab["<cls>"], vocab["<unk>"], vocab["<eos>"]]

    dna = DnaTokenizer.from_pretrained_tokenizer(whitespace_only)
    ids, _ = dna.encode("ACGTACGGATTA")
    assert ids.tolist() == [vocab["<cls>"], vocab["ACGTAC"], vocab["GGATTA"], vocab["<eos>"]]


def test_merging_bpe_vocabulary_is_refused():
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "A": 1, "C": 2, "G": 3, "T": 4, "AC": 5, "GT": 6}
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=[("A", "C"), ("G", "T")], unk_token="<unk>"))
    with pytest.raises(GenomixError, match="splits DNA differently"):
        DnaTokenizer.from_pretrained_tokenizer(PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="<unk>"))


def test_char_clm_keeps_the_bos_its_tokenizer_adds(char_clm_dir):
    model = gx.load_model(str(char_clm_dir))
    hf = AutoTokenizer.from_pretrained(char_clm_dir)
    assert model.kind == "clm" and model.backend == "hf-clm" and model.tokenizer.k == 1
    assert model.tokenize(["GATTACAN"]).input_ids[0].tolist() == hf("GATTACAN")["input_ids"]


@pytest.mark.parametrize(
    "fixture, auto", [("char_mlm_dir", AutoModelForMaskedLM), ("char_clm_dir", AutoModelForCausalLM)]
)
def test_activations_from_hooks_equal_the_models_hidden_states(request, fixture, auto):
    folder = request.getfixturevalue(fixture)
    model = gx.load_model(str(folder), device="cpu")
    reference = auto.from_pretrained(folder).eval()
    batch = model.tokenize(["ACGTTGCAAGGCTTAC", "GGGCCCAAATTT"])
    logits, activations = model.forward(batch, layers=tuple(model.layers))
    with torch.no_grad():
        direct = reference(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True)
    assert torch.allclose(logits, direct.logits, atol=1e-5)
    for i, layer in enumerate(model.layers):
        # hidden_states[0] is the embedding; the last entry may be after a final norm
        if i < len(model.layers) - 1:
            assert torch.allclose(activations[layer], direct.hidden_states[i + 1], atol=1e-5)
        assert activations[layer].shape == (2, batch.input_ids.shape[1], model.d_model)


@pytest.mark.parametrize("fixture", ["char_mlm_dir", "char_clm_dir", "kmer_mlm_dir"])
def test_a_pass_without_logits_stops_at_the_deepest_layer_it_captures(request, fixture):
    model = gx.load_model(str(request.getfixturevalue(fixture)), device="cpu")
    batch = model.tokenize(["ACGTTGCAAGGCTTACGATT", "GGGCCCAAATTT"])
    _, full = model.forward(batch, layers=tuple(model.layers))
    ran = []  # the blocks that ran, counted by hooks of our own
    handles = [block.register_forward_hook(lambda *_, i=i: ran.append(i)) for i, block in enumerate(model._blocks)]
    try:
        logits, captured = model.forward(batch, layers=(model.layers[-2], model.layers[0]), logits=False)
    finally:
        for handle in handles:
            handle.remove()
    assert logits is None and ran == list(range(len(model.layers) - 1))  # the last block never ran
    assert set(captured) == {model.layers[0], model.layers[-2]}
    for layer in captured:
        assert torch.equal(captured[layer], full[layer])
    after, _ = model.forward(batch)  # the hooks are gone: a full pass runs again
    assert after.shape[:2] == batch.input_ids.shape
    with pytest.raises(GenomixError, match="needs a layer"):
        model.forward(batch, logits=False)


def test_context_counts_special_tokens_and_absolute_positions(char_mlm_dir, kmer_mlm_dir, char_clm_dir):
    # 260 ESM positions, of which pad+1 = 2 are never used, minus <cls> and <eos>
    assert gx.load_model(str(char_mlm_dir)).context_bp == 256
    # rotary: 130 positions minus <cls> and <eos>, 6 bp per token
    assert gx.load_model(str(kmer_mlm_dir)).context_bp == 128 * 6
    # GPT-2: 300 positions minus <bos>
    assert gx.load_model(str(char_clm_dir)).context_bp == 299


def test_layer_names_accept_indices_and_reject_unknown(char_mlm_dir):
    model = gx.load_model(str(char_mlm_dir))
    assert model.layers == ["blocks.0", "blocks.1", "blocks.2"]
    assert layer_name(1, model) == layer_name("1", model) == layer_name("blocks.1", model) == "blocks.1"
    assert layer_name(-1, model) == "blocks.2"
    with pytest.raises(GenomixError, match="no layer"):
        layer_name("blocks.7", model)


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(GenomixError, match="model folder not found"):
        gx.load_model(str(tmp_path / "no-such-model"))
    with pytest.raises(GenomixError, match="no config.json"):
        gx.load_model(str(tmp_path))


def test_shipped_demo_model_loads_by_name():
    model = gx.load_model("demo")
    assert model.kind == "mlm" and model.tokenizer.k == 1
    assert model.model.config.model_type == "genomix-convnet" and len(model.layers) == 6
    assert model.name == "demo"  # not the folder it is installed in


def test_shipped_demo_sae_belongs_to_the_demo_model():
    model = gx.load_model("demo")
    sae = gx.load_sae("demo", model)
    assert (sae.d_in, sae.d_sae, sae.k, sae.architecture) == (96, 1536, 32, "batchtopk")
    assert sae.metadata["hook_name"] == "blocks.3" and sae.metadata["model_name"] == "demo"


def test_every_kmer_has_a_token(kmer_mlm_dir):
    model = gx.load_model(str(kmer_mlm_dir))
    assert all(model.token_id("".join(k)) is not None for k in itertools.product("ACGT", repeat=6))
