"""A BiLSTM pointer reader — the recurrent baseline of the DGCNN tab's benchmark (Wang & Jiang 2016, "Machine
Comprehension Using Match-LSTM and Answer Pointer", boundary model, simplified).

Everything but the encoder is the DGCNN reader's (models/dgcnn.py), so that the comparison is about convolution
against recurrence: the same inputs (characters + jieba words, the two match features), the same passage →
question attention, the same three heads (start, end, has-answer) and loss, the same decoding and voting
(:func:`models.dgcnn.read` reads with either model). The question is a BiLSTM pooled by additive attention; the
passage is two BiLSTM layers over [x, q, c, x ⊗ c]:

    h_t = [LSTM→(x_1..t) ; LSTM←(x_t..T)],   p_start = softmax_t(w_s · h_t) · p_has,   p_end = softmax_t(w_e · h_t) · p_has
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from models.dgcnn import (
    DGCNN,
    AttentionPool,
    Tokenizer,
    attend,
    load_reader,
    passage_inputs,
    span_outputs,
)
from models.dgcnn import save as dgcnn_save


@dataclass
class BiLSTMReaderConfig:
    vocab_size: int
    dim: int = 128
    words: int = 0
    dropout: float = 0.1
    max_answer: int = 40
    window: int = 256
    stride: int = 192
    threshold: float = 0.1
    length_penalty: float = 0.0
    span_softmax: bool = True
    match_features: bool = True   # Su's hand features (models.dgcnn.passage_inputs)


class BiLSTMReader(nn.Module):
    def __init__(self, cfg: BiLSTMReaderConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.embed = nn.Embedding(cfg.vocab_size, d, padding_idx=0)
        if cfg.words:
            self.word_embed = nn.Embedding(cfg.words, d, padding_idx=0)
            if cfg.match_features:
                self.word_in_question = nn.Embedding(2, d)
        if cfg.match_features:
            self.in_question = nn.Embedding(2, d)
        self.drop = nn.Dropout(cfg.dropout)
        self.question_rnn = nn.LSTM(d, d // 2, batch_first=True, bidirectional=True)
        self.question_pool = AttentionPool(d)
        self.merge = nn.Linear(4 * d, d)
        self.passage_rnn = nn.LSTM(d, d // 2, num_layers=2, batch_first=True, bidirectional=True,
                                   dropout=cfg.dropout)
        self.passage_pool = AttentionPool(d)
        self.start = nn.Linear(d, 1)
        self.end = nn.Linear(d, 1)
        self.has_answer = nn.Linear(2 * d, 1)

    embed_text = DGCNN.embed_text   # the same mixed character + word embedding

    @staticmethod
    def run(rnn, x, mask):
        """A BiLSTM over the unpadded part of each row (packed, so the backward direction starts at the real end)."""
        lengths = mask.squeeze(-1).sum(1).long().clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = rnn(packed)
        return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0] * mask

    def forward(self, q_ids, p_ids, q_words=None, p_words=None, logits: bool = False):
        """Same inputs and outputs as models.dgcnn.DGCNN.forward."""
        q_mask = (q_ids > 0).unsqueeze(-1).float()
        q_seq = self.run(self.question_rnn, self.drop(self.embed_text(q_ids, q_words)), q_mask)     # (B, Tq, d)
        q = self.question_pool(q_seq, q_mask)[0]                                                  # (B, d)
        mask = (p_ids > 0).unsqueeze(-1).float()
        x = passage_inputs(self, q_ids, p_ids, q_words, p_words)
        if self.cfg.words and p_words is not None:
            x = self.drop(x)   # (as trained: dropout here only with words — the shipped baseline has them)
        c = attend(x, q_seq, q_mask)                                                              # (B, Tp, d)
        x = self.merge(torch.cat([x, q.unsqueeze(1).expand_as(x), c, x * c], dim=-1)) * mask
        x = self.run(self.passage_rnn, x, mask)                                                   # (B, Tp, d)
        pooled = self.passage_pool(x, mask)[0]
        has = self.has_answer(torch.cat([pooled, q], dim=-1)).squeeze(-1)
        return span_outputs(self.start(x).squeeze(-1), self.end(x).squeeze(-1), has, mask.squeeze(-1),
                            self.cfg.span_softmax, logits)


def load(folder) -> tuple[BiLSTMReader, Tokenizer]:
    return load_reader(folder, BiLSTMReader, BiLSTMReaderConfig)


save = dgcnn_save   # the same files as the DGCNN reader: fp16 weights, config, card, vocab.txt, words.txt
