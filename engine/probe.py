"""`engine probe`: can GRPO learn anything from this config, before a GPU hour is spent?

GRPO learns only from groups whose rewards differ: a model that never writes a rewarded answer, or always does,
gives it nothing. The probe samples `num_generations` completions for a few training prompts exactly as a rollout
does (the training prompt with the chat template and start_with_thought prefix, temperature/top_p/min_p,
max_completion_length; vLLM where training would use it, else HF generate), scores them with every reward through
the same reward functions TRL calls, and reports:

- per reward: mean, spread (standard deviation), share of completions at its maximum, share of groups all equal;
- the share of groups whose total rewards are all equal (GRPO's frac_reward_zero_std);
- a verifier audit (engine.rewards.verifier_audit): each answer an answer_match reward extracts, compared with the
  gold answer by numeric and by math-verify, and the answers on which the two disagree;
- pass@1 and pass@k (k = num_generations) for correctness rewards; the share of completions cut at
  max_completion_length;
- a verdict in plain words, with the one setting to change as a dotted key and value (a UI can apply it);
- the time it took and an estimate of one training step on this machine, with how it was estimated.

`probe()` returns the report as a dict (what probe.json holds); `report_lines()` says it in words for the CLI.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass

from engine import backends, model_names
from engine.config import RunConfig
from engine.data import prepare_data, start_answers_with_prefix
from engine.evaluation import Completion, generate_completions, reward_category, reward_maximum, rollout_sampling
from engine.problems import ConfigError, Problem
from engine.rewards import RewardFunction, Row
from engine.rewards import verifier_audit as audit
from engine.run_length import duration

DEFAULT_PROMPTS = 16
MAX_PROMPTS = 1024
CLIPPED_SHARE = 0.5  # at least this share of completions cut off: the answers mostly never reach their end
EQUAL_GROUPS_SHARE = 0.9  # at least this share of groups all equal: GRPO learns from almost nothing
MAX_GENERATIONS_ADVICE = 16  # "too hard" asks for this many generations per prompt before a larger model
EXAMPLE_GROUPS = 2
TIE = 1e-9

VERDICT_TITLES = {
    "ready": "Ready",
    "too_easy": "Too easy (everything right)",
    "too_hard": "Too hard (nothing right)",
    "format_never": "Format never produced",
    "clipped": "Answers cut off",
    "no_spread": "Answers all score the same",
}


# ---------------------------------------------------------------------------------------------------------------
# Sampling

@dataclass
class Sampled:
    rows: list[dict]  # the training rows probed: {"prompt": messages, "answer": gold}
    groups: list[list[Completion]]  # num_generations completions per row
    generator: str
    load_seconds: float
    generation_seconds: float
    seconds_per_generation_batch: float  # one training step's rollouts: batch_size x gradient_accumulation_steps
    training_seconds: float | None  # one step's forward + backward, where measured
    training_how: str


def _prompt_chunks(config: RunConfig, rows: list[dict], per_chunk: int | None = None) -> list[list[dict]]:
    """Rows in chunks of one training step's prompts, so that each chunk's generation time is one step's (or of
    `per_chunk` prompts, where no step is timed)."""
    per_step = per_chunk or max(1, config.train.generation_batch // config.train.num_generations)
    return [rows[i:i + per_step] for i in range(0, len(rows), per_step)]


def _timed(seconds: list[float], call, *args, **kwargs):
    started = time.perf_counter()
    result = call(*args, **kwargs)
    _synchronize()
    seconds.append(time.perf_counter() - started)
    return result


def _synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def sample_hf(config: RunConfig, rows_for_tokenizer, n_prompts: int, cuda: bool, time_step: bool = True,
              progress=None) -> Sampled:
    """HF generate on the model as the hf backend loads it; then (with time_step) one forward + backward with the
    run's LoRA attached over one micro-batch of what it wrote, for the step estimate. `progress(done, total)` is
    told after each chunk of prompts."""
    import torch

    started = time.perf_counter()
    path = model_names.resolve_model_path(config.model.name)
    loaded = backends.BACKENDS["hf"].load(config, path, "hf", None)
    model, tokenizer, peft_config = loaded.model, loaded.tokenizer, loaded.peft_config
    model.eval()
    start_answers_with_prefix(tokenizer, config.prompt)
    rows = rows_for_tokenizer(tokenizer)[:n_prompts]
    load_seconds = time.perf_counter() - started
    torch.manual_seed(config.train.seed)
    t, prefix = config.train, config.prompt.answer_prefix()
    groups, seconds = [], []
    for chunk in _prompt_chunks(config, rows):
        prompts = [row["prompt"] for row in chunk for _ in range(t.num_generations)]
        completions = _timed(seconds, generate_completions, model, tokenizer, prompts, t.max_completion_length,
                             len(prompts), prefix, rollout_sampling(config))
        groups += [completions[i:i + t.num_generations] for i in range(0, len(completions), t.num_generations)]
        if progress is not None:
            progress(len(groups), len(rows))
    training = _time_training_step(config, model, tokenizer, peft_config, rows, groups) if time_step else None
    return Sampled(rows=rows, groups=groups, generator="HF generate", load_seconds=load_seconds,
                   generation_seconds=sum(seconds), seconds_per_generation_batch=_typical(seconds),
                   training_seconds=training,
                   training_how="one forward and backward pass through TRL's fused log-probability head with the "
                                "run's LoRA adapter attached, over batch_size of these completions, times "
                                "gradient_accumulation_steps")


def _typical(seconds: list[float]) -> float:
    """The median chunk: the first carries warm-up, the last may be short."""
    return statistics.median(seconds) if seconds else 0.0


def _time_training_step(config: RunConfig, model, tokenizer, peft_config, rows, groups) -> float:
    """Seconds of one optimizer step's forward + backward passes: per micro-batch, GRPOTrainer runs the model with
    TRL's fused LM head (per-token log-probabilities and entropies of the completion tokens, TRL's Triton kernel)
    and backpropagates through the LoRA adapter. Timed here the same way on batch_size of the sampled completions."""
    import torch
    from peft import get_peft_model
    from trl.trainer import add_fused_lm_head

    t, prefix = config.train, config.prompt.answer_prefix()
    add_fused_lm_head(model, temperature=t.temperature, outputs=("log_probs", "entropy"))
    model = get_peft_model(model, peft_config)
    model.train()
    if config.model.gradient_checkpointing and model.device.type == "cuda":  # as the hf backend trains on a GPU
        # Non-reentrant: the LoRA weights get their gradients although the frozen embeddings' outputs need none.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    pairs = [(tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False),
              completion.text.removeprefix(prefix)) for row, group in zip(rows, groups) for completion in group]
    prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p, _ in pairs[:t.batch_size]]
    completion_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
                      for _, c in pairs[:t.batch_size]]
    width_p, width_c = max(map(len, prompt_ids)), max(map(len, completion_ids))
    pad = tokenizer.pad_token_id
    # As GRPOTrainer lays a batch out: prompts padded on the left, completions on the right.
    ids = torch.tensor([[pad] * (width_p - len(p)) + p + c + [pad] * (width_c - len(c))
                        for p, c in zip(prompt_ids, completion_ids)], device=model.device)
    mask = torch.tensor([[0] * (width_p - len(p)) + [1] * (len(p) + len(c)) + [0] * (width_c - len(c))
                         for p, c in zip(prompt_ids, completion_ids)], device=model.device)
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :width_p] = -100  # only the completion tokens are scored
    seconds: list[float] = []

    def forward_backward():
        outputs = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
        outputs.log_probs[:, -width_c:].sum().backward()
        model.zero_grad(set_to_none=True)

    _timed(seconds, forward_backward)  # warm-up (allocations, kernel compilation) is not a step's cost
    _timed(seconds, forward_backward)
    return seconds[-1] * t.gradient_accumulation_steps


def sample_vllm(config: RunConfig, rows_for_tokenizer, n_prompts: int, progress=None,
                per_chunk: int | None = None) -> Sampled:
    """vLLM, as the unsloth backend's rollouts use it (same sampling settings, stopping at the tokenizer's EOS).
    `per_chunk` prompts go to vLLM at once (default: one training step's, to time a step)."""
    # In-process engine (as Unsloth runs it): no engine-core subprocess to spawn from `python -m engine`.
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    import torch
    from vllm import LLM, SamplingParams

    from engine.model_shape import shape_for_training

    started = time.perf_counter()
    path = model_names.resolve_model_path(config.model.name)
    tokenizer = model_names.load_tokenizer(path)
    start_answers_with_prefix(tokenizer, config.prompt)
    rows = rows_for_tokenizer(tokenizer)[:n_prompts]
    m, t = config.model, config.train
    quantization = "bitsandbytes" if m.load_in_4bit else "fp8" if m.load_in_fp8 else None
    # vLLM on its own (a share of the whole card), sized to one generation batch as the run's rollouts are.
    free, total = torch.cuda.mem_get_info()
    plan = backends.plan_run(config, backends.BACKENDS["hf"], True, shape_for_training(path), free / 2**30,
                             total / 2**30)
    llm = LLM(model=path, max_model_len=m.max_seq_length, gpu_memory_utilization=plan.vllm_share,
              quantization=quantization, seed=t.seed, enforce_eager=True)
    load_seconds = time.perf_counter() - started
    params = SamplingParams(n=t.num_generations, temperature=t.temperature, top_p=t.top_p, min_p=t.min_p,
                            max_tokens=t.max_completion_length, stop_token_ids=[tokenizer.eos_token_id])
    prefix = config.prompt.answer_prefix()
    groups, seconds = [], []
    for chunk in _prompt_chunks(config, rows, per_chunk):
        requests = [{"prompt_token_ids": tokenizer(tokenizer.apply_chat_template(row["prompt"], tokenize=False,
                                                                                   add_generation_prompt=True),
                                                   add_special_tokens=False)["input_ids"]} for row in chunk]
        outputs = _timed(seconds, llm.generate, requests, params, use_tqdm=False)
        groups += [[Completion(prefix + o.text, clipped=o.finish_reason == "length") for o in request.outputs]
                   for request in outputs]
        if progress is not None:
            progress(len(groups), len(rows))
    return Sampled(rows=rows, groups=groups, generator="vLLM", load_seconds=load_seconds,
                   generation_seconds=sum(seconds), seconds_per_generation_batch=_typical(seconds),
                   training_seconds=None,
                   training_how="the forward and backward passes are not measured on the vLLM path (vLLM holds the "
                                "model), so a step takes longer than this")


# ---------------------------------------------------------------------------------------------------------------
# Scoring and statistics

def scored_texts(sampled: Sampled) -> tuple[list[str], list[Row]]:
    """Every completion (groups flattened in order) and its row, with every data column of it."""
    texts, rows = [], []
    for row, group in zip(sampled.rows, sampled.groups):
        for completion in group:
            texts.append(completion.text)
            rows.append(Row.from_example(row))
    return texts, rows


def score_groups(config: RunConfig, sampled: Sampled) -> dict[str, list[float | None]]:
    """Every reward's scores for every completion (groups flattened in order), through the scorers training uses, with
    every data column of the completion's row."""
    texts, rows = scored_texts(sampled)
    scores = {}
    for i, spec in enumerate(config.rewards):
        try:
            scores[spec.name] = RewardFunction(spec, config.prompt).score_rows(texts, rows)
        except Exception as e:  # a user's python reward may raise anything: one sentence, with its key
            raise ConfigError([Problem(f"rewards[{i}] ({spec.name})", f"the reward raised {type(e).__name__}: "
                                                                     f"{str(e)[:200]}; fix it and probe again")]) from e
    return scores


def _group(values: list, size: int) -> list[list]:
    return [values[i:i + size] for i in range(0, len(values), size)]


def _all_equal(values: list[float]) -> bool:
    return not values or max(values) - min(values) <= TIE


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def reward_stats(spec, values: list[float | None], group_size: int) -> dict:
    scored = [v for v in values if v is not None]
    maximum = reward_maximum(spec)
    top = maximum if maximum is not None else (max(scored) if scored else None)
    groups = [[v for v in g if v is not None] for g in _group(values, group_size)]
    return {"name": spec.name, "kind": spec.kind, "category": reward_category(spec), "weight": spec.weight,
            "scored": len(scored), "mean": statistics.fmean(scored) if scored else None,
            "spread": statistics.pstdev(scored) if scored else None, "max": top, "max_known": maximum is not None,
            "share_at_max": _share(sum(v >= top - TIE for v in scored), len(scored)) if top is not None else None,
            "groups_all_equal": _share(sum(_all_equal(g) for g in groups if g), sum(1 for g in groups if g))}


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of n samples with c right (Chen et al. 2021, 'Evaluating Large Language Models Trained
    on Code'): the chance that at least one of k drawn without replacement is right."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def passed(config: RunConfig, scores: dict) -> list[bool | None]:
    """Per completion: right (every correctness reward at its maximum), or, for a config without a correctness
    reward, in format (every format reward at its maximum); None where a reward could not score it."""
    specs = ([s for s in config.rewards if reward_category(s) == "correctness"]
             or [s for s in config.rewards if reward_category(s) == "format" and reward_maximum(s) is not None])
    if not specs:
        return []
    return [None if any(scores[s.name][i] is None for s in specs)
            else all(scores[s.name][i] >= reward_maximum(s) - TIE for s in specs)
            for i in range(len(scores[specs[0].name]))]


def correctness_stats(config: RunConfig, scores: dict, group_size: int) -> dict | None:
    """pass@1 and pass@k over the rows with a gold answer, counting an answer right when every correctness reward
    gives it its maximum (one reward: that reward)."""
    specs = [s for s in config.rewards if reward_category(s) == "correctness"]
    if not specs:
        return None
    groups = [g for g in _group(passed(config, scores), group_size) if all(v is not None for v in g)]
    k = group_size
    return {"rewards": [s.name for s in specs], "k": k, "rows": len(groups),
            "right": sum(sum(g) for g in groups), "answers": sum(len(g) for g in groups),
            "pass@1": statistics.fmean(pass_at_k(len(g), sum(g), 1) for g in groups) if groups else None,
            f"pass@{k}": statistics.fmean(pass_at_k(len(g), sum(g), k) for g in groups) if groups else None,
            "rows_with_a_right_answer": sum(any(g) for g in groups)}


def totals(config: RunConfig, scores: dict) -> list[float]:
    """The weighted total per completion, as GRPOTrainer sums it (rewards that gave None are left out)."""
    n = len(next(iter(scores.values()))) if scores else 0
    return [sum(s.weight * v for s in config.rewards if (v := scores[s.name][i]) is not None) for i in range(n)]


# ---------------------------------------------------------------------------------------------------------------
# The verdict

def _change(key: str | None, value, sentence: str, also: list[dict] | None = None) -> dict:
    """The one setting to change: a dotted config key and its new value (None: the user must choose it, e.g. a
    larger model), with a sentence; `also` lists settings that must change with it to stay valid."""
    return {"key": key, "value": value, "sentence": sentence, "also": also or []}


def _num_generations_change(config: RunConfig, target: int, why: str) -> dict:
    t = config.train
    also = []
    if t.generation_batch % target:
        batch = math.ceil(t.batch_size / target) * target
        also.append({"key": "train.batch_size", "value": batch,
                     "sentence": f"{batch} completions per step (batch_size), a multiple of {target}, so each "
                                 "step holds whole groups"})
    return _change("train.num_generations", target, f"Sample {target} answers per question instead of "
                                                    f"{t.num_generations} (num_generations): {why}.", also)


def _larger_model(why: str) -> dict:
    return _change("model.name", None, f"Pick a larger instruct model (1.5B parameters or more): {why}.")


def _uses_thought_tag(config: RunConfig, specs) -> bool:
    """Whether a reward asks for the opening thought tag: the structural format always does; a pattern or a tag
    list does where it names it."""
    tag = config.prompt.thought_tags[0]

    def asks(spec) -> bool:
        texts = [getattr(spec, "pattern", None) or "", *(getattr(spec, "tags", None) or [])]
        return spec.kind == "format" or any(tag in config.prompt.fill(text) for text in texts)

    return any(asks(spec) for spec in specs)


def findings(config: RunConfig, stats: dict, longest_prompt: int | None) -> list[dict]:
    """Every problem found, most fundamental first; an empty list means ready. Each: code, title, text, change."""
    t, found = config.train, []
    rewards, correctness = stats["rewards"], stats["correctness"]
    completions, clipped = stats["completions"], stats["clipped"]
    known = [r for r in rewards if r["max_known"] and r["scored"]]

    def add(code: str, text: str, change: dict | None) -> None:
        found.append({"code": code, "title": VERDICT_TITLES[code], "text": text, "change": change})

    # Too easy only when nothing is left to learn: right answers that still differ in format teach the format.
    right_always = (correctness is not None and correctness["answers"]
                    and correctness["right"] == correctness["answers"]
                    and stats["groups_all_equal"] >= EQUAL_GROUPS_SHARE)
    earns_all = (correctness is None and known and all(r["share_at_max"] == 1.0 for r in known)
                 and all(r["spread"] is None or r["spread"] <= TIE for r in rewards if not r["max_known"]))
    if right_always or earns_all:
        what = "every answer was right" if correctness is not None else "every answer already earns every reward"
        change = (_change("data.path", None, "Use harder questions: the model already answers these right.")
                  if correctness is not None else
                  _change("rewards", None, "Make a reward stricter, or add one the model does not earn yet."))
        add("too_easy", f"Too easy: {what}, so the answers to each question tie and training has nothing to "
                        "improve.",
            change)
        return found

    never = [r for r in known if r["share_at_max"] == 0.0]
    never_format = [r for r in never if r["category"] == "format"]
    too_hard = correctness is not None and correctness["answers"] and correctness["right"] == 0
    if clipped >= CLIPPED_SHARE:
        longer = 2 * t.max_completion_length
        also = []
        if longest_prompt is not None and longest_prompt + longer > config.model.max_seq_length:
            seq = min(262144, math.ceil((longest_prompt + longer) / 256) * 256)
            also.append({"key": "model.max_seq_length", "value": seq,
                         "sentence": f"room for {seq} tokens of question and answer (max_seq_length), enough for "
                                     "the longest question and the longer answers"})
        add("clipped", f"Answers cut off: {clipped:.0%} of the answers reached the longest answer allowed "
                       f"({t.max_completion_length} tokens) before they ended, so most never reach their final answer "
                       "(max_completion_length).",
            _change("train.max_completion_length", longer, f"Allow answers of up to {longer} tokens "
                                                            f"(max_completion_length).", also))
    if never_format:
        names = ", ".join(f"'{r['name']}'" for r in never_format)
        if not config.prompt.start_with_thought and _uses_thought_tag(config, [s for s in config.rewards
                                                                                if s.name in {r["name"] for r in
                                                                                              never_format}]):
            change = _change("prompt.start_with_thought", True,
                             "Begin every answer inside the thinking tag (start_with_thought), as DeepSeek-R1 does: "
                             "the model then only has to close it.")
        else:
            change = _larger_model("this one never wrote the format the rewards ask for")
        add("format_never", f"Format never produced: none of the {completions} answers earned the full score of "
                            f"{names}.", change)
    if too_hard:
        k = correctness["k"]
        if t.temperature < 1.0:
            change = _change("train.temperature", 1.0, "Sample at temperature 1.0, so that the answers to a question "
                                                       "differ more.")
        elif t.num_generations < MAX_GENERATIONS_ADVICE:
            change = _num_generations_change(config, MAX_GENERATIONS_ADVICE, "more tries per question, more "
                                                                             "chances of a right one")
        else:
            change = _larger_model("this one got no question right")
        add("too_hard", f"Too hard: none of the {correctness['answers']} answers to {correctness['rows']} questions "
                        f"was right, so training has no right answer to learn from (pass@{k}: 0%).", change)
    if stats["groups_all_equal"] >= EQUAL_GROUPS_SHARE:
        constant = all(r["spread"] is not None and r["spread"] <= TIE for r in rewards)
        if constant:
            change = _change("rewards", None, "Every answer gets the same score from every reward: change a reward "
                                              "so that better answers score higher (e.g. partial credit with "
                                              "tag_count).")
        elif t.temperature < 1.0:
            change = _change("train.temperature", 1.0, "Sample at temperature 1.0, so that the answers to a question "
                                                       "differ more.")
        else:
            change = _num_generations_change(config, min(64, 2 * t.num_generations),
                                             "more answers per question, more chances that they differ")
        add("no_spread", f"Answers all score the same: for {stats['groups_all_equal']:.0%} of the questions every "
                         "answer got the same total reward, so training learns from almost none of them.", change)
    return found


def choose_verdict(found: list[dict], stats: dict) -> dict:
    """The finding to act on first. Clipping comes first when it can explain the others (an answer cut off never
    reaches its format or its final answer); otherwise the order of `findings`."""
    if not found:
        varied = round((1 - stats["groups_all_equal"]) * stats["prompts"])
        return {"code": "ready", "title": VERDICT_TITLES["ready"],
                "text": f"Ready: {varied} of {stats['prompts']} questions got answers with different rewards, so "
                        "training has something to learn from.", "change": None}
    codes = [f["code"] for f in found]
    if "clipped" in codes and len(codes) == 1:
        return found[0]
    if "clipped" in codes and any(c in codes for c in ("format_never", "too_hard")):
        return found[codes.index("clipped")]
    return next(f for f in found if f["code"] != "clipped")


# ---------------------------------------------------------------------------------------------------------------
# The probe

def step_estimate(config: RunConfig, sampled: Sampled) -> dict:
    generation = sampled.seconds_per_generation_batch
    training = sampled.training_seconds
    seconds = generation + (training or 0.0)
    how = (f"the median time to generate one step's {config.train.generation_batch} completions ({generation:.1f} s, "
           f"{sampled.generator}), plus " + (f"{training:.1f} s for {sampled.training_how}" if training is not None
                                             else sampled.training_how))
    return {"seconds": round(seconds, 2), "generation_seconds": round(generation, 2),
            "training_seconds": None if training is None else round(training, 2), "how": how,
            "run_seconds": round(seconds * config.train.max_steps, 1)}


def probe(config: RunConfig, prompts: int = DEFAULT_PROMPTS, progress=None) -> dict:
    """Sample, score and judge; the report as probe.json holds it. `progress(done, total)` is told as questions are
    answered (engine/progress_bar.py). Raises ConfigError for what the user must fix."""
    started = time.perf_counter()
    cuda = model_names.cuda_visible()
    backend = backends.backend_for(config, cuda).name
    vllm = backends.choose_rollout(config.model, cuda) in ("vllm", "vllm_server")  # the server samples as vLLM does
    longest: dict = {}

    def training_rows(tokenizer) -> list[dict]:
        data = prepare_data(config, tokenizer)
        longest["tokens"] = data.longest_prompt_tokens
        if not data.train:
            raise ConfigError([Problem("data.eval_fraction", "no rows are left for training; lower "
                                                             "data.eval_fraction or add rows")])
        return data.train

    try:
        sampled = (sample_vllm(config, training_rows, prompts, progress) if vllm
                   else sample_hf(config, training_rows, prompts, cuda, progress=progress))
    except OSError as e:  # a hub id while offline, a folder without weights
        raise ConfigError([Problem("model.name", f"{config.model.name} could not be loaded ({type(e).__name__}: "
                                                 f"{str(e).strip().splitlines()[0][:200] if str(e).strip() else ''})"
                                                 "; check the name, or download it first")]) from None
    k = config.train.num_generations
    scores = score_groups(config, sampled)
    completions = [c for group in sampled.groups for c in group]
    total = totals(config, scores)
    total_groups = _group(total, k)
    stats = {
        "prompts": len(sampled.rows), "completions": len(completions),
        "rewards": [reward_stats(spec, scores[spec.name], k) for spec in config.rewards],
        "total": {"mean": statistics.fmean(total) if total else None,
                  "spread": statistics.pstdev(total) if total else None},
        "groups_all_equal": _share(sum(_all_equal(g) for g in total_groups), len(total_groups)),
        "correctness": correctness_stats(config, scores, k),
        "clipped": _share(sum(c.clipped for c in completions), len(completions)),
    }
    found = findings(config, stats, longest.get("tokens"))
    t = config.train
    report = {
        "model": config.model.name, "backend": backend, "generator": sampled.generator,
        "data": config.data.path, "generations_per_prompt": k, "max_completion_length": t.max_completion_length,
        "sampling": {"temperature": t.temperature, "top_p": t.top_p, "min_p": t.min_p},
        "start_with_thought": config.prompt.start_with_thought,
        **stats,
        "verdict": choose_verdict(found, stats), "findings": found,
        "seconds": round(time.perf_counter() - started, 1), "load_seconds": round(sampled.load_seconds, 1),
        "generation_seconds": round(sampled.generation_seconds, 1),
        "step_estimate": step_estimate(config, sampled),
        "examples": _examples(config, sampled, scores, total),
        "verifier_audit": audit.verifier_audit(config, *scored_texts(sampled)),
        "config": config.model_dump(mode="json"),
    }
    return report


def _examples(config: RunConfig, sampled: Sampled, scores: dict, total: list[float]) -> list[dict]:
    k, examples = config.train.num_generations, []
    for g, (row, group) in enumerate(list(zip(sampled.rows, sampled.groups))[:EXAMPLE_GROUPS]):
        answers = [{"text": c.text, "clipped": c.clipped, "total": total[g * k + j],
                    "scores": {name: values[g * k + j] for name, values in scores.items()}}
                   for j, c in enumerate(group)]
        examples.append({"prompt": row["prompt"][-1]["content"], "answer": row["answer"], "completions": answers})
    return examples


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _audit_lines(verifier_audit: dict | None) -> list[str]:
    if verifier_audit is None:
        return []
    lines = [f"verifier audit: {audit.headline(verifier_audit)}"]
    lines += [f"  {audit.case_sentence(case)}" for case in verifier_audit["cases"]]
    skipped = audit.skipped_sentence(verifier_audit)
    return lines + ([f"  {skipped}"] if skipped else [])


def report_lines(report: dict) -> list[str]:
    """The report in words, for a terminal."""
    lines = [(f"probed {report['prompts']} questions x {report['generations_per_prompt']} completions "
              f"({report['generator']}, {report['model']}) in {report['seconds']:.0f} s")]
    for r in report["rewards"]:
        mean = "n/a" if r["mean"] is None else f"{r['mean']:.3f}"
        spread = "n/a" if r["spread"] is None else f"{r['spread']:.3f}"
        at_max = _percent(r["share_at_max"]) + ("" if r["max_known"] else " (of the highest seen)")
        lines.append(f"  {r['name']:16} {r['category']:11} mean {mean:>7}  spread {spread:>6}  at max {at_max}")
    c = report["correctness"]
    if c is not None:
        pass_k = c[f"pass@{c['k']}"]
        lines.append(f"  right answers: {c['right']} of {c['answers']}; pass@1 {_percent(c['pass@1'])}, "
                     f"pass@{c['k']} {_percent(pass_k)}")
    lines.append(f"  groups all equal: {_percent(report['groups_all_equal'])}; clipped: {_percent(report['clipped'])}")
    estimate = report["step_estimate"]
    lines.append(f"  one training step: about {estimate['seconds']:.1f} s ({estimate['how']})")
    steps = report.get("config", {}).get("train", {}).get("max_steps")
    if steps and "run_seconds" in estimate:
        lines.append(f"  the whole run: about {duration(estimate['run_seconds'])} ({steps:,} steps), plus loading "
                     "the model")
    verdict = report["verdict"]
    lines.append(f"verdict: {verdict['text']}")
    if verdict["change"]:
        change = verdict["change"]
        setting = f" [{change['key']}: {change['value']}]" if change["value"] is not None else f" [{change['key']}]"
        lines.append(f"change: {change['sentence']}{setting}")
    for other in report["findings"]:
        if other is not verdict and other["code"] != verdict["code"]:
            lines.append(f"also: {other['text']}")
    return lines + _audit_lines(report.get("verifier_audit"))
