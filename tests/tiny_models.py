"""Tiny cross-encoders with random weights and a small vocabulary, built into a folder for tests.

Weights use a wide initialiser so scores spread over 0..1 and parity checks mean something.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "the cat sat on the mat",
    "dogs chase cats in the garden",
    "rain falls on the city at night",
    "a fast engine reranks search results",
    "wind tunnel tests of supersonic flow over a wing",
    "boundary layer heat transfer at high mach number",
    "the answer is hidden deep inside a long document",
    "quantum physics explains the spectrum of hydrogen",
    "what is the capital of france paris is the capital",
]


def vocabulary() -> list[str]:
    words = sorted({w for line in CORPUS for w in line.split()})
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces = ["##" + c for c in letters] + ["##s", "##ing", "##ed"]
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *pieces, *words, ".", ",", "?", "!"]


def build_bert_family(
    folder: Path, *, kind: str = "bert", num_labels: int = 1, seed: int = 0, max_positions: int = 128
) -> Path:
    """Save a random BERT or ELECTRA sequence classifier with a WordPiece tokenizer into `folder`."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertTokenizerFast,
        ElectraConfig,
        ElectraForSequenceClassification,
    )

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {token: i for i, token in enumerate(vocabulary())}
    tokenizer = BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=max_positions)
    common = dict(
        vocab_size=len(vocabulary()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=max_positions,
        num_labels=num_labels,
        initializer_range=0.3,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(seed)
    if kind == "bert":
        model = BertForSequenceClassification(BertConfig(**common))
    elif kind == "electra":
        model = ElectraForSequenceClassification(ElectraConfig(embedding_size=16, **common))
    else:
        raise ValueError(kind)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def build_xlmr(folder: Path, *, seed: int = 0, max_positions: int = 130) -> Path:
    """Save a random XLM-RoBERTa classifier with a small Unigram tokenizer trained on the corpus."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    trainer = trainers.UnigramTrainer(vocab_size=120, special_tokens=specials, unk_token="<unk>")
    tok.train_from_iterator(CORPUS * 3, trainer=trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=max_positions - 2,
    )
    config = XLMRobertaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=max_positions,
        num_labels=1,
        initializer_range=0.3,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        type_vocab_size=1,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(seed)
    XLMRobertaForSequenceClassification(config).save_pretrained(str(folder))
    fast.save_pretrained(str(folder))
    return folder


def reference_scores(
    folder: Path, pairs: list[tuple[str, str]], *, max_length: int, num_labels: int = 1
) -> list[float]:
    """Scores from `transformers` itself: its tokenizer, its model, sigmoid (or softmax positive class)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    batch = tokenizer(
        [q for q, _ in pairs],
        [d for _, d in pairs],
        padding=True,
        truncation="only_second",
        max_length=max_length,
        return_tensors="pt",
    )
    with torch.inference_mode():
        logits = model(**batch).logits
    if num_labels == 1:
        return torch.sigmoid(logits[:, 0]).tolist()
    return torch.softmax(logits, dim=-1)[:, 1].tolist()
