"""Unsloth's sequence packing, checked once per run instead of whenever a batch is longer than any before.

Unsloth's GRPO loss packs a batch's rows into one varlen sequence and, to be safe, verifies the packed log-probs
against a forward of every row on its own. It re-verifies whenever the packed length or the longest row grows past
what it verified (unsloth_zoo 2026.10.9, `grpo_accumulated_loss` and the no-grad log-prob pass). Prompt lengths
vary, and completions grow as a reasoning run learns, so new records keep coming: each costs one extra forward per
row, one row at a time. On the H200 at 64 completions of 1024 tokens that was most of the step's training side
(bench/RESULTS.md).

What the re-check guards against is a model whose rotary embedding changes with length (LongRoPE switches its
factors past the original context; dynamic NTK rescales with it): a packed stream longer than any verified one may
then score differently. For every other model, the first verification, which already packed several rows into one
stream, holds for any length the run can reach, so this callback widens Unsloth's verified envelope to the run's
limits after it. A failed verification (Unsloth then falls back to the padded loop), one of a single row, and a
model whose rotary embedding depends on length are left to Unsloth.
"""

from __future__ import annotations

from transformers import TrainerCallback

# The attributes Unsloth keeps on the model: (verified?, verified packed length, verified longest row), for the loss's
# forward (grad) and the old log-probs' pass (nograd).
PASSES = {
    "grad": ("_unsloth_seq_packing_grad_ok", "_unsloth_seq_packing_grad_verified_T",
             "_unsloth_seq_packing_grad_verified_seg"),
    "nograd": ("_unsloth_seq_packing_nograd_ok", "_unsloth_seq_packing_nograd_verified_T",
               "_unsloth_seq_packing_nograd_verified_seg"),
}
LENGTH_DEPENDENT_ROPE = {"longrope", "dynamic", "su"}


def rope_depends_on_length(model_config) -> bool:
    """Whether the model's rotary embedding changes with the sequence's length (transformers 4 names it
    rope_scaling, 5 rope_parameters)."""
    for name in ("rope_scaling", "rope_parameters"):
        rope = getattr(model_config, name, None)
        if isinstance(rope, dict) and (rope.get("rope_type") or rope.get("type")) in LENGTH_DEPENDENT_ROPE:
            return True
    return False


def widen_verified_packing(model, max_rows: int, max_seq_length: int) -> list[str]:
    """Set each verified pass's envelope to the run's limits; returns the passes widened."""
    if rope_depends_on_length(getattr(model, "config", None)):
        return []
    widened = []
    for name, (ok, packed, longest) in PASSES.items():
        # A verified length of 0: the check ran on fewer than two rows, which proves nothing about packing.
        if getattr(model, ok, None) is True and 0 < getattr(model, packed, 0) < max_rows * max_seq_length:
            setattr(model, packed, max_rows * max_seq_length)
            setattr(model, longest, max_seq_length)
            widened.append(name)
    return widened


class TrustVerifiedPacking(TrainerCallback):
    """After each step, widens what Unsloth verified (see the module docstring); a no-op once both passes are
    widened, and on any model or Unsloth version without these attributes."""

    def __init__(self, max_rows: int, max_seq_length: int, say=print):
        self.max_rows, self.max_seq_length, self.say = max_rows, max_seq_length, say

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if model is None:
            return
        widened = widen_verified_packing(model, self.max_rows, self.max_seq_length)
        if widened:
            self.say(f"sequence packing verified at step {state.global_step} ({', '.join(widened)}): trusted up to "
                     f"{self.max_rows} rows of {self.max_seq_length} tokens")
