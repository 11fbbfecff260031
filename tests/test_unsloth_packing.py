"""The Unsloth backend trusts its first packing verification for the run's whole length range (engine/backends/
unsloth_packing.py), except where the check proved nothing or the model's rotary embedding changes with length.

The model here is a plain torch module carrying the attributes Unsloth's GRPO loss sets after it verified packing
(unsloth_zoo 2026.10.9); on the GPU, bench/grpo_bench.py measures the effect inside Unsloth's trainer."""

from types import SimpleNamespace

import torch
from transformers import TrainerControl, TrainerState

from engine.backends import BACKENDS
from engine.backends.unsloth_packing import TrustVerifiedPacking, widen_verified_packing
from engine.config import build_config


def verified_model(rope=None, grad=(True, 8 * 700, 700), nograd=(True, 8 * 650, 650)):
    model = torch.nn.Linear(2, 2)
    model.config = SimpleNamespace(rope_scaling=rope)
    for name, (ok, packed, longest) in (("grad", grad), ("nograd", nograd)):
        if ok is not None:
            setattr(model, f"_unsloth_seq_packing_{name}_ok", ok)
            setattr(model, f"_unsloth_seq_packing_{name}_verified_T", packed)
            setattr(model, f"_unsloth_seq_packing_{name}_verified_seg", longest)
    return model


def test_a_verified_run_is_trusted_up_to_its_limits_and_says_so():
    model, said = verified_model(), []
    callback = TrustVerifiedPacking(max_rows=64, max_seq_length=1536, say=said.append)
    callback.on_step_end(None, TrainerState(global_step=1), TrainerControl(), model=model)
    for name in ("grad", "nograd"):
        assert getattr(model, f"_unsloth_seq_packing_{name}_verified_T") == 64 * 1536
        assert getattr(model, f"_unsloth_seq_packing_{name}_verified_seg") == 1536
    assert said == ["sequence packing verified at step 1 (grad, nograd): trusted up to 64 rows of 1536 tokens"]
    callback.on_step_end(None, TrainerState(global_step=2), TrainerControl(), model=model)
    assert len(said) == 1  # nothing left to widen


def test_what_the_check_did_not_prove_is_left_to_unsloth():
    single_row = verified_model(grad=(True, 0, 0))  # verified on one row: Unsloth keeps re-checking
    assert widen_verified_packing(single_row, 64, 1536) == ["nograd"]
    assert single_row._unsloth_seq_packing_grad_verified_T == 0
    failed = verified_model(grad=(False, 0, 0), nograd=(None, 0, 0))  # packing off after a mismatch
    assert widen_verified_packing(failed, 64, 1536) == []
    assert failed._unsloth_seq_packing_grad_ok is False
    unverified = verified_model(grad=(None, 0, 0), nograd=(None, 0, 0))  # step 1 not done, or the hf backend
    assert widen_verified_packing(unverified, 64, 1536) == []
    assert not hasattr(unverified, "_unsloth_seq_packing_grad_verified_T")


def test_a_rotary_embedding_that_changes_with_length_keeps_unsloths_rechecks():
    for rope in ({"rope_type": "longrope", "factor": 4.0}, {"type": "dynamic", "factor": 2.0}):
        model = verified_model(rope=rope)
        assert widen_verified_packing(model, 64, 1536) == []
        assert model._unsloth_seq_packing_grad_verified_T == 8 * 700
    linear = verified_model(rope={"rope_type": "linear", "factor": 2.0})  # fixed factors: the same at any length
    assert widen_verified_packing(linear, 64, 1536) == ["grad", "nograd"]


def test_the_unsloth_backend_adds_the_callback_with_the_runs_limits():
    config = build_config({"preset": "reasoning", "model": {"max_seq_length": 3072},
                           "train": {"batch_size": 16, "gradient_accumulation_steps": 2}})
    [callback] = BACKENDS["unsloth"].callbacks(config)
    assert isinstance(callback, TrustVerifiedPacking)
    assert (callback.max_rows, callback.max_seq_length) == (32, 3072)
    assert BACKENDS["hf"].callbacks(config) == []
