"""Importing the tutorial's model-ckpt.pt: its logits exactly, its layout checked, and no code in a pickle ever runs."""
from __future__ import annotations

import io
import os
import pickle

import pytest
import torch

from bench.tutorial_model import TransformerLanguageModel
from minigpt import checkpoint
from minigpt.checkpoint import CheckpointError, load_any


def tutorial_model(max_token_value: int = 500, **overrides) -> TransformerLanguageModel:
    settings = dict(d_model=32, num_heads=4, num_blocks=2, context_length=8, dropout=0.1,
                    max_token_value=max_token_value)
    settings.update(overrides)
    torch.manual_seed(4)
    model = TransformerLanguageModel(**settings).eval()
    with torch.no_grad():  # LayerNorms start at 1/0; give them real values so their mapping is tested
        for name, p in model.named_parameters():
            if "layer_norm" in name or name.startswith("transformer_blocks.2."):
                p.add_(torch.randn(p.shape) * 0.2)
    return model


def saved(state: dict, **kwargs) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf, **kwargs)
    return buf.getvalue()


@pytest.mark.parametrize("zipfile", [True, False])
def test_tutorial_checkpoint_gives_the_tutorial_models_logits(zipfile):
    theirs = tutorial_model()
    ckpt = load_any(saved(theirs.state_dict(), _use_new_zipfile_serialization=zipfile))
    assert ckpt.source == "tutorial"
    c = ckpt.config
    assert (c.d_model, c.num_heads, c.num_blocks, c.context_length) == (32, 4, 2, 8)
    assert c.norm == "pre" and c.qkv_bias is False and c.vocab == "full" and c.ffn_mult == 4
    assert ckpt.vocab.size == 502 and ckpt.vocab.ids == tuple(range(501))  # 0..500 and <unk>
    idx = torch.randint(0, 501, (4, 8), generator=torch.Generator().manual_seed(1))
    rows = torch.tensor([ckpt.vocab.rows(r) for r in idx.tolist()])
    expected, _ = theirs(idx)
    ours, _ = ckpt.model(rows)
    torch.testing.assert_close(ours[..., :500], expected, atol=1e-5, rtol=0)
    assert torch.all(ours[..., 500:] == checkpoint.UNREACHABLE_LOGIT)  # id 500 (no logit there) and <unk>
    traced = ckpt.model.run_with_trace(rows[:, :5])
    torch.testing.assert_close(traced["logits"][..., :500], theirs(idx[:, :5])[0], atol=1e-5, rtol=0)


def test_tutorial_reference_has_the_tutorials_layout():
    theirs = tutorial_model()
    state = theirs.state_dict()
    assert state["token_embedding_lookup_table.weight"].shape == (501, 32)
    assert state["language_model_out_linear_layer.weight"].shape == (500, 32)  # one logit too few
    assert state["transformer_blocks.2.weight"].shape == (32,)  # the final LayerNorm, inside the Sequential
    head = "transformer_blocks.0.multi_head_attention_layer.heads.3."
    assert state[head + "query_layer.weight"].shape == (8, 32) and head + "query_layer.bias" not in state
    assert torch.equal(state[head + "tril"], torch.tril(torch.ones(8, 8)))
    assert state["transformer_blocks.1.feed_forward_layer.ffn.0.weight"].shape == (128, 32)
    idx = torch.randint(0, 500, (2, 8), generator=torch.Generator().manual_seed(0))
    logits, loss = theirs(idx, idx)
    assert logits.shape == (2, 8, 500) and loss.item() > 0
    torch.manual_seed(0)
    assert theirs.generate(idx[:, :6], 5).shape == (2, 11)  # crops its context to 8 as it goes


def test_a_whole_pickled_tutorial_model_is_refused():
    with pytest.raises(CheckpointError, match="nothing in it ran"):
        load_any(saved(tutorial_model()))  # torch.save(model) instead of model.state_dict()


def test_tutorial_checkpoint_with_other_sizes():
    theirs = tutorial_model(max_token_value=300, d_model=48, num_heads=6, num_blocks=1, context_length=5)
    ckpt = load_any(saved(theirs.state_dict()))
    assert (ckpt.config.num_heads, ckpt.config.context_length, ckpt.config.d_k) == (6, 5, 8)
    idx = torch.randint(0, 301, (2, 5), generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(ckpt.model(idx)[0][..., :300], theirs(idx)[0], atol=1e-5, rtol=0)


def test_tutorial_checkpoint_with_the_wrong_head_count():
    with pytest.raises(CheckpointError, match="has 4 heads per block, not 8"):
        load_any(saved(tutorial_model().state_dict()), num_heads=8)


def test_tutorial_checkpoint_with_broken_tensors():
    state = tutorial_model().state_dict()
    state["transformer_blocks.0.multi_head_attention_layer.heads.1.query_layer.weight"] = torch.zeros(8, 31)
    with pytest.raises(CheckpointError):
        load_any(saved(state))
    state = tutorial_model().state_dict()
    del state["language_model_out_linear_layer.bias"]
    with pytest.raises(CheckpointError, match="language_model_out_linear_layer.bias is missing"):
        load_any(saved(state))
    state = tutorial_model().state_dict()
    state["transformer_blocks.1.layer_norm_2.weight"] = torch.full((32,), float("nan"))
    with pytest.raises(CheckpointError, match="NaN"):
        load_any(saved(state))


def test_a_pt_file_that_is_not_a_state_dict():
    with pytest.raises(CheckpointError, match="does not hold a state_dict"):
        load_any(saved({"model": tutorial_model().state_dict(), "step": 3}))
    with pytest.raises(CheckpointError, match="not the tutorial's layout"):
        load_any(saved({"weight": torch.zeros(3, 3)}))


# -- hostile and broken files --------------------------------------------------------------------------
class RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class OpensFile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("payload", [RunsShell, OpensFile])
@pytest.mark.parametrize("wrap", ["pickle", "pickle-protocol-0", "torch.save", "torch.save-legacy"])
def test_code_in_a_pickle_never_runs(tmp_path, payload, wrap):
    marker = tmp_path / "pwned"
    evil = payload(marker)
    data = {
        "pickle": lambda: pickle.dumps(evil),
        "pickle-protocol-0": lambda: pickle.dumps(evil, protocol=0),
        "torch.save": lambda: saved({"token_embedding_lookup_table.weight": evil}),
        "torch.save-legacy": lambda: saved({"x": evil}, _use_new_zipfile_serialization=False),
    }[wrap]()
    with pytest.raises(CheckpointError) as err:
        load_any(data)
    assert not marker.exists()
    assert "Traceback" not in str(err.value) and len(str(err.value)) < 300
