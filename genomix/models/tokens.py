"""DNA tokenization that does not trust a tokenizer's string splitting.

Tokenizers split strings differently across transformers versions (an ESM tokenizer
built from Nucleotide Transformer's 6-mer vocabulary splits on whitespace only under
some releases). genomix recognises the vocabulary instead: k-mer vocabularies (all
4^k k-mers, single bases for the rest, as Nucleotide Transformer does) and character
vocabularies. It builds the ids itself and checks them against the tokenizer once.

Subword vocabularies (BPE, as DNABERT-2, GROVER and GENA-LM use) have no fixed k: a token's
bases depend on its neighbours. genomix takes their tokens from the tokenizer itself and places
bases through its character offsets, never through a guessed k (`OffsetTokenizer`).
"""

from __future__ import annotations

import itertools

import numpy as np

from genomix.errors import GenomixError

_PROBE = "ACGTTGCAAGGCTTACCGATCGTAGCATGCAAATTTGGGCCCATATGCGCTA"  # 51 bp: a remainder for any k > 1


class DnaTokenizer:
    """Maps DNA strings to token ids of a model's vocabulary.

    `k`: bases per token (1 for character vocabularies). A k-mer window that is not in
    the vocabulary (it holds an N, or is the remainder at the end) is split into
    single-base tokens. `prefix`/`suffix`: special ids the model's tokenizer adds.
    """

    subword = False

    def __init__(
        self, vocab: dict[str, int], k: int, lower: bool, prefix: list[int], suffix: list[int], unk_id: int | None
    ):
        self.vocab = vocab
        self.k = k
        self.lower = lower
        self.prefix = list(prefix)
        self.suffix = list(suffix)
        self.unk_id = unk_id

    @classmethod
    def from_pretrained_tokenizer(cls, tokenizer, name: str = "model") -> DnaTokenizer:
        """Recognise `tokenizer`'s vocabulary and learn its special tokens from a probe sequence."""
        vocab = tokenizer.get_vocab()
        for lower in (False, True):
            bases = "acgt" if lower else "ACGT"
            k = _kmer_size(vocab, bases)
            if k:
                break
        else:
            raise GenomixError(
                f"the tokenizer of {name} is neither character-level DNA nor a k-mer DNA vocabulary "
                "(no single-base tokens A, C, G, T); genomix cannot place variants in its tokens."
            )
        dna = cls(vocab, k, lower, [], [], tokenizer.unk_token_id)
        core = dna.encode(_PROBE)[0].tolist()
        pieces = [dna._token_string(i) for i in core]
        # The space-separated form covers k-mer tokenizers that split on whitespace only;
        # a character vocabulary must split the plain string itself (a BPE one would not).
        texts = [_PROBE.lower() if lower else _PROBE] + ([" ".join(pieces)] if k > 1 else [])
        for text in texts:
            ids = list(tokenizer(text)["input_ids"])
            at = _find(ids, core)
            if at is not None:
                dna.prefix, dna.suffix = ids[:at], ids[at + len(core) :]
                return dna
        raise GenomixError(
            f"the tokenizer of {name} splits DNA differently from its {k}-mer vocabulary "
            f"(probe {_PROBE[:12]}... gave ids {ids[:8]}...); genomix cannot place variants in its tokens."
        )

    def _token_string(self, token_id: int) -> str:
        if not hasattr(self, "_inverse"):
            self._inverse = {i: s for s, i in self.vocab.items()}
        return self._inverse[token_id]

    def token_id(self, bases: str) -> int | None:
        """Id of the token spelling `bases` (upper-case input), None when not in the vocabulary."""
        return self.vocab.get(bases.lower() if self.lower else bases)

    def encode(self, seq: str) -> tuple[np.ndarray, np.ndarray]:
        """Ids `[T]` and base spans `[T, 2]` (half-open; -1 for special tokens) of an upper-case DNA string."""
        text = seq.lower() if self.lower else seq
        ids, starts = [], []
        vocab, unk = self.vocab, self.unk_id
        k = self.k
        for start in range(0, len(text), k):
            chunk = text[start : start + k]
            token = vocab.get(chunk) if len(chunk) == k else None
            if token is not None:
                ids.append(token)
                starts.append(start)
                continue
            for i, base in enumerate(chunk):
                token = vocab.get(base, unk)
                if token is None:
                    raise GenomixError(f"base {base!r} has no token and the tokenizer has no unknown token")
                ids.append(token)
                starts.append(start + i)
        spans = np.empty((len(ids), 2), dtype=np.int64)
        spans[:, 0] = starts
        spans[:, 1] = np.append(spans[1:, 0], len(text)) if ids else []
        n_prefix, n_suffix = len(self.prefix), len(self.suffix)
        all_ids = np.array(self.prefix + ids + self.suffix, dtype=np.int64)
        all_spans = np.concatenate([np.full((n_prefix, 2), -1), spans, np.full((n_suffix, 2), -1)]).astype(np.int64)
        return all_ids, all_spans

    def n_tokens(self, length: int) -> int:
        """Tokens (specials included) of an ACGT sequence of `length` bases."""
        return len(self.prefix) + length // self.k + length % self.k + len(self.suffix)


class OffsetTokenizer:
    """A subword (BPE) DNA vocabulary: ids from the model's own fast tokenizer, base spans from its
    character offsets. `k` is 1, the fewest bases a token may hold (the context counts tokens as
    bases). A substitution may move the token boundaries around it: the ref and alt windows then
    hold different tokens (see `genomix.scoring` for what that means for llr)."""

    subword = True
    k = 1

    def __init__(self, tokenizer, lower: bool, prefix: list[int], suffix: list[int]):
        self.tokenizer = tokenizer
        self.vocab = tokenizer.get_vocab()
        self.lower = lower
        self.prefix = list(prefix)
        self.suffix = list(suffix)

    @classmethod
    def from_pretrained_tokenizer(cls, tokenizer, name: str = "model") -> OffsetTokenizer:
        """Accept `tokenizer` when its offsets cover a probe sequence base by base, each token spelling
        its bases."""
        if not getattr(tokenizer, "is_fast", False):
            raise GenomixError(
                f"the tokenizer of {name} is a subword (BPE) vocabulary without a fast (Rust) tokenizer; genomix "
                "places variants in subword tokens through character offsets, which only fast tokenizers give."
            )
        for lower in (False, True):
            dna = cls(tokenizer, lower, [], [])
            try:
                ids, spans = dna.encode(_PROBE)
            except GenomixError:
                continue
            inner = [i for i, (start, _) in enumerate(spans) if start >= 0]
            strings = [dna._token_string(int(ids[i])) for i in inner]
            probe = _PROBE.lower() if lower else _PROBE
            if strings == [probe[start:end] for start, end in spans[inner]]:
                dna.prefix, dna.suffix = ids[: inner[0]].tolist(), ids[inner[-1] + 1 :].tolist()
                return dna
        raise GenomixError(
            f"the tokenizer of {name} is neither a character, k-mer nor subword DNA vocabulary whose tokens spell "
            f"the bases they cover (probe {_PROBE[:12]}...); genomix cannot place variants in its tokens."
        )

    def _token_string(self, token_id: int) -> str:
        return self.tokenizer.convert_ids_to_tokens(token_id)

    def token_id(self, bases: str) -> int | None:
        """Id of the token spelling `bases` (upper-case input), None when not in the vocabulary."""
        return self.vocab.get(bases.lower() if self.lower else bases)

    def encode(self, seq: str) -> tuple[np.ndarray, np.ndarray]:
        """Ids `[T]` and base spans `[T, 2]` (half-open; -1 for special tokens) of an upper-case DNA string."""
        text = seq.lower() if self.lower else seq
        encoded = self.tokenizer(
            text, return_offsets_mapping=True, return_special_tokens_mask=True, truncation=False, verbose=False
        )
        spans = np.array(encoded["offset_mapping"], dtype=np.int64).reshape(-1, 2)
        spans[np.array(encoded["special_tokens_mask"], dtype=bool)] = -1
        bases = spans[spans[:, 0] >= 0]
        covered = len(bases) > 0 and bases[0, 0] == 0 and bases[-1, 1] == len(text)
        if not covered or (bases[1:, 0] != bases[:-1, 1]).any() or (bases[:, 1] <= bases[:, 0]).any():
            raise GenomixError(
                "the subword tokenizer's offsets do not cover the sequence base by base; genomix cannot place "
                "variants in its tokens."
            )
        return np.array(encoded["input_ids"], dtype=np.int64), spans

    def n_tokens(self, length: int) -> int:
        """The most tokens (specials included) an ACGT sequence of `length` bases can take."""
        return len(self.prefix) + length + len(self.suffix)


def dna_tokenizer(tokenizer, name: str = "model") -> DnaTokenizer | OffsetTokenizer:
    """genomix's view of a model's tokenizer: a character or k-mer vocabulary when it is one, else a
    subword vocabulary placed through its offsets."""
    try:
        return DnaTokenizer.from_pretrained_tokenizer(tokenizer, name)
    except GenomixError:
        return OffsetTokenizer.from_pretrained_tokenizer(tokenizer, name)


def _kmer_size(vocab: dict[str, int], bases: str) -> int:
    """Largest k for which every k-mer over `bases` is in `vocab` (single bases must be there too)."""
    if not all(base in vocab for base in bases):
        return 0
    for k in (8, 7, 6, 5, 4, 3, 2):
        if all("".join(kmer) in vocab for kmer in itertools.product(bases, repeat=k)):
            return k
    return 1


def _find(haystack: list[int], needle: list[int]) -> int | None:
    for start in range(len(haystack) - len(needle) + 1):
        if haystack[start : start + len(needle)] == needle:
            return start
    return None
