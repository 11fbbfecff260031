"""The model card of an exported run: README.md with the Hub's YAML front matter, written from the run folder (base
model, preset, rewards, data, eval before/after), and the reward curve as a PNG made from events.jsonl.

The front matter is huggingface_hub's ModelCardData, so the keys are the ones the Hub reads.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from engine import builtin_models
from engine.config import RunConfig, load_config
from engine.data import load_table, system_prompt
from engine.runs.folder import RunFolder

CURVE_FILE = "reward_curve.png"
LIBRARY = {"adapter": "peft", "merged": "transformers", "gguf": "gguf"}


def base_model_facts(name: str) -> tuple[str | None, str | None]:
    """(Hub id of the base model, its licence) where known: a built-in's origin, or the licence in the model's own
    card (a local folder's README.md, or the Hub card already in the local cache; never a download)."""
    if builtin_models.is_builtin(name):
        return builtin_models.HUB_ORIGINS.get(name, (None, None))
    from huggingface_hub import ModelCard, try_to_load_from_cache

    folder = Path(name).expanduser()
    hub_id = None if folder.exists() else name
    readme = folder / "README.md" if folder.exists() else try_to_load_from_cache(name, "README.md")
    licence = None
    if isinstance(readme, (str, Path)) and Path(readme).is_file():
        try:
            licence = ModelCard.load(readme).data.license
        except Exception:  # noqa: BLE001 -- a card we cannot parse just leaves the licence out
            licence = None
    return hub_id, licence if isinstance(licence, str) else None


def data_facts(config: RunConfig) -> dict:
    """File name, rows and columns of the training data (rows/columns left out if the file cannot be read now)."""
    path = config.data.path
    facts = {"name": path if path.startswith("hf:") else Path(path).name}
    try:
        table = load_table(path)
    except Exception:  # noqa: BLE001 -- moved, deleted or offline: the card still names the file
        return facts
    return {**facts, "rows": len(table), "columns": list(table.column_names)}


def reward_curve(run: RunFolder, out: Path) -> Path | None:
    """The total reward and each reward's mean per step, with a 10-step moving average of the total."""
    events = {e["step"]: e for e in run.read_events() if isinstance(e.get("step"), int)}
    steps = sorted(events)
    if not steps:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    totals = [events[s].get("reward") for s in steps]
    if any(isinstance(t, (int, float)) for t in totals):
        values = [float(t) if isinstance(t, (int, float)) else math.nan for t in totals]
        ax.plot(steps, values, color="0.75", linewidth=1, label="reward (total)")
        ax.plot(steps, _moving_average(values), color="black", linewidth=2, label="total, 10-step average")
    names = sorted({k for e in events.values() for k in e if k.startswith("rewards/") and k.endswith("/mean")})
    for key in names:
        ax.plot(steps, [events[s].get(key, float("nan")) for s in steps], linewidth=1,
                label=key.removeprefix("rewards/").removesuffix("/mean"))
    ax.set_xlabel("step")
    ax.set_ylabel("reward")
    ax.set_title(f"GRPO rewards — {run.id}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _moving_average(values: list[float], window: int = 10) -> list[float]:
    averages = []
    for i, value in enumerate(values):
        recent = [v for v in values[max(0, i - window + 1):i + 1] if not math.isnan(v)]
        averages.append(statistics.fmean(recent) if recent and not math.isnan(value) else math.nan)
    return averages


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _eval_section(run: RunFolder) -> list[str]:
    try:
        report = json.loads(run.eval_path.read_text(encoding="utf-8"))
        base, tuned = report["base"], report["tuned"]
        rows = [("accuracy", _percent(base.get("accuracy")), _percent(tuned.get("accuracy"))),
                ("format compliance", _percent(base.get("format_compliance")),
                 _percent(tuned.get("format_compliance"))),
                ("mean reward", f"{base['mean_reward']:.3f}", f"{tuned['mean_reward']:.3f}")]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    source = report.get("data") or "held-out rows of the training data"
    lines = ["## Evaluation", "",
             (f"Base model vs this model, {report.get('decoding', 'greedy')} decoding, n = {tuned.get('n')} "
              f"({source})."), "", "| | base | tuned |", "|---|---|---|"]
    lines += [f"| {name} | {b} | {t} |" for name, b, t in rows]
    return lines + [""]


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def card_text(run: RunFolder, config: RunConfig, what: str, repo_id: str | None, has_curve: bool,
              gguf_name: str | None = None) -> str:
    from huggingface_hub import ModelCardData

    base_id, licence = base_model_facts(config.model.name)
    tags = ["grpo", "trl", "reasoning", "grpo-studio", *{"adapter": ["lora", "peft"], "gguf": ["gguf", "ollama"]}.get(
        what, [])]
    front = ModelCardData(base_model=base_id, license=licence, library_name=LIBRARY[what], tags=tags,
                          pipeline_tag="text-generation")
    status = run.read_status()
    title = repo_id.split("/")[-1] if repo_id else run.id
    thought, answer = config.prompt.thought_tags, config.prompt.answer_tags
    lines = ["---", front.to_yaml(), "---", "", f"# {title}", "",
             f"A \"thinking\" model trained with GRPO (Group Relative Policy Optimization, TRL's GRPOTrainer) by "
             f"GRPO Studio, from **{config.model.name}**"
             + (f" ([{base_id}](https://huggingface.co/{base_id}))" if base_id and base_id != config.model.name else "")
             + f". It thinks between `{thought[0]}` and `{thought[1]}`, then answers between `{answer[0]}` and "
               f"`{answer[1]}`.", "",
             f"This repository holds {_WHAT[what]}.", "", "## Training", "", "| | |", "|---|---|",
             f"| base model | {_cell(config.model.name)} |", f"| preset | {_cell(config.preset or 'none')} |",
             f"| steps | {status.step} of {config.train.max_steps} ({status.state}) |",
             f"| backend | {_cell(status.backend or config.model.backend)} |",
             f"| LoRA rank / alpha | {config.model.lora_rank} / {config.model.lora_alpha or config.model.lora_rank} |",
             f"| learning rate | {config.train.learning_rate:g} ({config.train.lr_scheduler_type}) |",
             f"| generations per prompt | {config.train.num_generations} |",
             f"| max completion length | {config.train.max_completion_length} tokens |",
             f"| loss / KL beta | {config.train.loss_type} / {config.train.beta:g} |", ""]
    instructions = system_prompt(config).strip()
    if instructions:
        where = "before each question" if config.prompt.instructions_in == "user" else "as the system message"
        lines += ["## Prompt", "", f"Training put these instructions {where}:", "", "```text", instructions, "```", ""]
    if config.prompt.start_with_thought:
        lines += [(f"Every answer begins with `{thought[0]}` already written: the chat template's generation "
                   "prompt ends with it."), ""]
    lines += ["## Rewards", "", "| name | kind | weight | full score / otherwise |", "|---|---|---|---|"]
    lines += [f"| {_cell(r.name)} | {r.kind} | {r.weight:g} | {r.reward:g} / {r.penalty:g} |" for r in config.rewards]
    data = data_facts(config)
    lines += ["", "## Data", "", f"- file: `{_cell(data['name'])}`"]
    if "rows" in data:
        lines.append(f"- {data['rows']} rows; columns: {', '.join(f'`{c}`' for c in data['columns'])}")
    lines += [(f"- prompt column: `{config.data.prompt_column or 'guessed'}`, answer column: "
               f"`{config.data.answer_column or 'guessed'}`; {config.data.eval_fraction:.0%} held out for evaluation"),
              ""]
    lines += _eval_section(run)
    if has_curve:
        lines += ["## Reward curve", "", f"![rewards per step]({CURVE_FILE})", ""]
    lines += _usage(what, repo_id or f"<you>/{run.id}", base_id or config.model.name, gguf_name)
    return "\n".join(lines).rstrip() + "\n"


_WHAT = {"adapter": "the LoRA adapter (load it on top of the base model with peft)",
         "merged": "the full model with the adapter merged in (16-bit safetensors)",
         "gguf": "a GGUF of the merged model and an Ollama Modelfile"}


def _usage(what: str, repo_id: str, base: str, gguf_name: str | None) -> list[str]:
    lines = ["## Use it", ""]
    if what == "adapter":
        lines += ["```python", "from peft import AutoPeftModelForCausalLM",
                  "from transformers import AutoTokenizer", "",
                  f'model = AutoPeftModelForCausalLM.from_pretrained("{repo_id}")',
                  f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")', "```",
                  "", f"The base model is `{base}`."]
    elif what == "merged":
        lines += ["```python", "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
                  f'model = AutoModelForCausalLM.from_pretrained("{repo_id}")',
                  f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")', "```"]
    else:
        lines += ["With Ollama, from a folder holding the GGUF and the Modelfile:", "", "```bash",
                  "ollama create my-model -f Modelfile", "ollama run my-model", "```", "",
                  f"With llama.cpp: `llama-cli -m {gguf_name or 'MODEL.gguf'} -cnv`."]
    return lines + [""]


def write_card(run: RunFolder, folder: Path, what: str, repo_id: str | None = None,
               gguf_name: str | None = None) -> Path:
    """folder/README.md and folder/reward_curve.png; returns the README's path."""
    folder.mkdir(parents=True, exist_ok=True)
    config = load_config(run.config_path)
    has_curve = reward_curve(run, folder / CURVE_FILE) is not None
    readme = folder / "README.md"
    readme.write_text(card_text(run, config, what, repo_id, has_curve, gguf_name), encoding="utf-8")
    return readme
