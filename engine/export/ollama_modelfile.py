"""An Ollama Modelfile for an exported GGUF: the chat template in Ollama's Go template syntax, the run's instructions
and the stop tokens, so that `ollama create NAME -f Modelfile` answers as the model was trained to.

The chat template is read, not guessed: the model's own (Jinja) template is rendered on a sample conversation and the
result must equal, character for character, what one of the layouts below produces; only then is that layout written
as a Go template. ChatML (Qwen, SmolLM2, the built-in tiny model) and Llama 3 are known. Another template gets no
TEMPLATE line: Ollama then uses the chat template stored in the GGUF itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.config import RunConfig
from engine.data import system_prompt


class ModelfileError(Exception):
    """A sentence for the user."""


@dataclass(frozen=True)
class ChatLayout:
    name: str
    header: str  # the role header: '{role}' is replaced by the role
    end: str  # what closes a turn
    stops: tuple[str, ...]

    def turn(self, role: str, content: str) -> str:
        return self.header.replace("{role}", role) + content + self.end


LAYOUTS = (
    ChatLayout("ChatML", "<|im_start|>{role}\n", "<|im_end|>\n", ("<|im_end|>", "<|im_start|>")),
    ChatLayout("Llama 3", "<|start_header_id|>{role}<|end_header_id|>\n\n", "<|eot_id|>",
               ("<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>")),
)
SAMPLE = {"system": "SYSTEM-1f3a", "user": "USER-1f3a", "assistant": "ASSISTANT-1f3a", "user2": "USER2-1f3a"}


@dataclass(frozen=True)
class TemplateFacts:
    layout: ChatLayout
    answer_prefix: str  # what the generation prompt adds after the assistant header (e.g. '<thought>\n')
    default_system: str  # a system message the template adds when none is given (Qwen2.5 does)


def _render(tokenizer, messages: list[dict]) -> str:
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def read_template(tokenizer) -> TemplateFacts | None:
    """The layout whose rendering equals the model's own template on a sample conversation, or None."""
    conversation = [{"role": "system", "content": SAMPLE["system"]}, {"role": "user", "content": SAMPLE["user"]},
                    {"role": "assistant", "content": SAMPLE["assistant"]}, {"role": "user", "content": SAMPLE["user2"]}]
    try:
        rendered = _render(tokenizer, conversation)
        without_system = _render(tokenizer, [{"role": "user", "content": SAMPLE["user"]}])
    except Exception:  # noqa: BLE001 -- a template that cannot render a plain conversation has no layout to write
        return None
    bos = tokenizer.bos_token or ""
    for layout in LAYOUTS:
        body = "".join(layout.turn(m["role"], m["content"]) for m in conversation) + layout.turn("assistant", "")
        body = body[:-len(layout.end)]  # the generation prompt: the assistant header, then the answer prefix
        for start in ("", bos):
            if rendered.startswith(start + body):
                prefix = rendered[len(start + body):]
                default = _default_system(without_system[len(start):], layout, prefix)
                if default is not None:
                    return TemplateFacts(layout, prefix, default)
    return None


def _default_system(rendered: str, layout: ChatLayout, prefix: str) -> str | None:
    """'' when the template adds nothing without a system message, its text when it adds one, None if neither."""
    tail = layout.turn("user", SAMPLE["user"]) + layout.header.replace("{role}", "assistant") + prefix
    if rendered == tail:
        return ""
    head = layout.header.replace("{role}", "system")
    if rendered.startswith(head) and rendered.endswith(layout.end + tail):
        return rendered[len(head):-len(layout.end + tail)]
    return None


def _go_text(text: str) -> str:
    """Literal text inside a Go template: only '{{' would start an action."""
    return text.replace("{{", '{{ "{{" }}')


def go_template(facts: TemplateFacts, user_instructions: str) -> str:
    """Ollama's template (Go text/template over .System and .Messages), as Ollama's own ChatML templates are built;
    `user_instructions` go before the first question, as the run's prompts put them (prompt.instructions_in: user)."""
    layout = facts.layout
    header = {role: _go_text(layout.header.replace("{role}", role)) for role in ("system", "user", "assistant")}
    end = _go_text(layout.end)
    instructions = ""
    if user_instructions:
        instructions = ("{{ if not $instructed }}" + _go_text(user_instructions) + "\n\n"
                        "{{ $instructed = true }}{{ end }}")
    return (
        "{{- $instructed := false }}\n"
        "{{- if .System }}" + header["system"] + "{{ .System }}" + end + "{{ end }}\n"
        "{{- range $i, $_ := .Messages }}\n"
        "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
        "{{- if eq .Role \"user\" }}" + header["user"] + instructions + "{{ .Content }}" + end + "{{ end }}\n"
        "{{- if eq .Role \"assistant\" }}" + header["assistant"] + "{{ .Content }}{{ if not $last }}" + end
        + "{{ end }}{{ end }}\n"
        "{{- if and $last (ne .Role \"assistant\") }}" + header["assistant"] + _go_text(facts.answer_prefix)
        + "{{ end }}\n"
        "{{- end }}"
    )


def _quoted(text: str, what: str) -> str:
    if '"""' in text:
        raise ModelfileError(f'the {what} contains """, which an Ollama Modelfile cannot hold; remove it and export '
                             "again")
    return '"""' + text + '"""'


def modelfile_text(gguf_name: str, tokenizer, config: RunConfig) -> tuple[str, str | None]:
    """(the Modelfile, a note when the chat template could not be written for Ollama)."""
    facts = read_template(tokenizer)
    instructions = system_prompt(config).strip()
    in_user = config.prompt.instructions_in == "user"
    lines = [f"# Made by GRPO Studio. Create the model with:  ollama create NAME -f {'Modelfile'}",
             f"FROM ./{gguf_name}"]
    note = None
    system = "" if in_user else instructions
    if facts is None:
        note = ("the chat template is neither ChatML nor Llama 3, so the Modelfile has no TEMPLATE: Ollama uses the "
                "template stored in the GGUF")
        if in_user and instructions:
            note += ", and the instructions that training put before each question are not added for you"
    else:
        lines.append(f"TEMPLATE {_quoted(go_template(facts, instructions if in_user else ''), 'chat template')}")
        system = system or facts.default_system
    if system:
        lines.append(f"SYSTEM {_quoted(system, 'system prompt')}")
    stops = list(facts.layout.stops if facts else ())
    if tokenizer.eos_token and tokenizer.eos_token not in stops:
        stops.insert(0, tokenizer.eos_token)
    lines += [f'PARAMETER stop "{stop}"' for stop in stops]
    lines.append(f"PARAMETER num_ctx {config.model.max_seq_length}")
    return "\n".join(lines) + "\n", note


def write_modelfile(folder: Path, gguf_name: str, tokenizer, config: RunConfig) -> tuple[Path, str | None]:
    text, note = modelfile_text(gguf_name, tokenizer, config)
    path = folder / "Modelfile"
    path.write_text(text, encoding="utf-8")
    return path, note
