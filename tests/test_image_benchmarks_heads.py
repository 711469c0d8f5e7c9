"""Head codec, multi-head criterion and score, and the tensor-set probe, on hand-made values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hippo_bench.tasks.heads import HeadCodec, HeadScore, MultiHeadCrossEntropy
from hippo_bench.tasks.probes import TensorSetAccuracy

HEADS = {"category": 10, "item": 3}


def test_codec_encodes_category_plus_ten_times_item_and_decodes_back():
    codec = HeadCodec(HEADS)
    y = codec.encode(category=torch.tensor([7, 2, 0]), item=torch.tensor([0, 2, 1]))
    assert y.tolist() == [7, 22, 10] and codec.n_outputs == 13
    labels = codec.decode(y)
    assert labels["category"].tolist() == [7, 2, 0] and labels["item"].tolist() == [0, 2, 1]
    with pytest.raises(ValueError):
        codec.encode(category=torch.tensor([10]), item=torch.tensor([0]))


def test_criterion_is_the_sum_of_both_heads_cross_entropies():
    output = torch.zeros(1, 13)
    output[0, 3] = math.log(3.0)  # category logits: one of 10 has weight 3, the rest 1
    target = HeadCodec(HEADS).encode(category=torch.tensor([3]), item=torch.tensor([1]))
    # category: -log(3 / (3 + 9)) = log 4; item: uniform over 3 -> log 3
    assert float(MultiHeadCrossEntropy(HEADS)(output, target)) == pytest.approx(math.log(4) + math.log(3))


def test_scores_read_their_own_head():
    output = torch.zeros(2, 13)
    output[0, 4] = 1.0   # category 4
    output[0, 10 + 2] = 1.0  # item 2
    output[1, 1] = 1.0   # category 1, item 0 (all item logits equal -> argmax 0)
    target = HeadCodec(HEADS).encode(category=torch.tensor([4, 5]), item=torch.tensor([1, 0]))
    assert HeadScore(HEADS, "category")(output, target).tolist() == [1.0, 0.0]
    assert HeadScore(HEADS, "item")(output, target).tolist() == [0.0, 1.0]


def test_tensor_set_probe_records_accuracy_per_experience_and_restores_train_mode():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))  # predicts the larger input coordinate
    sets = [(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])),
            (torch.tensor([[0.0, 2.0]]), torch.tensor([1]))]
    probe = TensorSetAccuracy("seen", sets, lambda out, y: (out.argmax(1) == y).float(), batch_size=1)
    model.train()
    measures = probe(model, None)
    assert [(m.metric, m.eval_exp, m.value) for m in measures] == [("seen", 0, 0.5), ("seen", 1, 1.0)]
    assert model.training
