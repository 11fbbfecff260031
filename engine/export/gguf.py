"""A merged model folder (safetensors + tokenizer) -> one GGUF file for llama.cpp, Ollama and LM Studio.

Written on the `gguf` package (gguf-py, llama.cpp's own Python library, already a dependency for the SmolLM2
built-in): GGUFWriter writes the file, TensorNameMap names the tensors as llama.cpp expects, SpecialVocab carries the
merges, special tokens and chat template, and gguf.quants makes Q8_0. The per-architecture rules below (which
hyperparameters become which keys, Llama's q/k permutation, llama3 rope factors, the pre-tokenizer hash) follow
llama.cpp's convert_hf_to_gguf.py for the decoders the app offers: Llama, Mistral, Qwen2 and Qwen3. That script is
not on PyPI as a package of llama.cpp's own (the one repackaging there ships a second `gguf` module that would
overwrite this one), and it needs a llama.cpp checkout, which an offline image does not have.

Q4_K_M needs llama.cpp's quantizer (k-quants have no Python implementation in gguf-py): the f16 GGUF is handed to
llama-cpp-python's `llama_model_quantize`, or to a `llama-quantize` binary on PATH; with neither, q4_k_m is refused
with one sentence that says what works.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from engine.progress_bar import progress_bar

OUTTYPES = ("f16", "q8_0", "q4_k_m")
ARCHITECTURES = {  # HF architecture -> gguf MODEL_ARCH name
    "LlamaForCausalLM": "LLAMA",
    "MistralForCausalLM": "LLAMA",
    "Qwen2ForCausalLM": "QWEN2",
    "Qwen3ForCausalLM": "QWEN3",
}
# llama.cpp identifies a BPE pre-tokenizer by hashing the token ids of this text (convert_hf_to_gguf.py,
# get_vocab_base_pre); these are its hashes for the tokenizers of the models the app offers.
CHECK_TEXT = ('\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ '  # noqa: E501 (llama.cpp's text, kept whole)
              '🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ '  # noqa: E501 (llama.cpp's text, kept whole)
              '------======= нещо на Български \'\'\'\'\'\'```````""""......!!!!!!?????? I\'ve been \'told he\'s '
              'there, \'RE you sure? \'M not sure I\'ll make it, \'D you like some tea? We\'Ve a\'lL')
PRE_TOKENIZERS = {
    "e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea": "qwen2",  # Qwen1.5 .. Qwen3
    "d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c": "qwen2",  # Qwen3 embedding
    "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5": "llama-bpe",  # Llama 3.x
    "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249": "smollm",  # SmolLM / SmolLM2
    "3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454": "gpt-2",
}
# The split regexes behind those names (llama.cpp's llama-vocab.cpp), for new vocabularies on a known split.
SPLIT_REGEXES = {
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
    r"\s+(?!\S)|\s+": "qwen2",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
    r"\s+(?!\S)|\s+": "llama-bpe",
}
LLAMA_FTYPE_MOSTLY_Q4_K_M = 15  # llama.h's enum llama_ftype


class GgufError(Exception):
    """A sentence for the user: what cannot be converted and what to do instead."""


def q4_k_m_quantizer() -> str | None:
    """How q4_k_m can be made here: 'llama_cpp' (llama-cpp-python), a llama-quantize path, or None."""
    if importlib.util.find_spec("llama_cpp") is not None:
        return "llama_cpp"
    return shutil.which("llama-quantize")


def outtype_problem(outtype: str) -> str | None:
    """One sentence when this GGUF type cannot be made on this machine, checked before any work."""
    if outtype not in OUTTYPES:
        return f"--gguf must be one of {', '.join(OUTTYPES)}, not '{outtype}'"
    if outtype == "q4_k_m" and q4_k_m_quantizer() is None:
        return ("q4_k_m needs llama.cpp's quantizer, which is not installed here (pip install llama-cpp-python, "
                "or llama-quantize on PATH); use --gguf q8_0 (near-lossless, half of f16), or --gguf f16 and let "
                "Ollama quantize it: ollama create NAME --quantize q4_K_M -f Modelfile")
    return None


def convert(model_dir: Path, out_path: Path, outtype: str, name: str) -> Path:
    """Write model_dir (a merged model saved with save_pretrained) as one GGUF file at out_path, atomically."""
    problem = outtype_problem(outtype)
    if problem:
        raise GgufError(problem)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp{os.getpid()}")
    try:
        if outtype == "q4_k_m":
            f16 = out_path.with_name(f".{out_path.name}.f16.tmp{os.getpid()}")
            try:
                _write_gguf(model_dir, f16, "f16", name)
                _quantize_q4_k_m(f16, tmp)
            finally:
                f16.unlink(missing_ok=True)
        else:
            _write_gguf(model_dir, tmp, outtype, name)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


# ---------------------------------------------------------------------------------------------------------------
# Writing

def _write_gguf(model_dir: Path, path: Path, outtype: str, name: str) -> None:
    import gguf

    hparams = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    architecture = (hparams.get("architectures") or ["?"])[0]
    if architecture not in ARCHITECTURES:
        raise GgufError(f"GGUF export supports Llama, Mistral, Qwen2 and Qwen3 models, not {architecture}; "
                        "export the merged model (--merge) and convert it with llama.cpp's convert_hf_to_gguf.py")
    arch = getattr(gguf.MODEL_ARCH, ARCHITECTURES[architecture])
    ftype = gguf.LlamaFileType.MOSTLY_F16 if outtype == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0
    writer = gguf.GGUFWriter(path, gguf.MODEL_ARCH_NAMES[arch])
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name)
    _add_hyperparameters(writer, hparams, arch)
    writer.add_file_type(ftype)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _add_vocabulary(writer, model_dir, hparams)

    tensors = list(_tensors(model_dir, hparams, arch))
    plans = []
    for gguf_name, shape, load in tensors:
        qtype = _tensor_type(gguf_name, shape, outtype)
        plans.append((load, qtype))
        if qtype == gguf.GGMLQuantizationType.Q8_0:
            byte_shape = gguf.quants.quant_shape_to_byte_shape(shape, qtype)
            writer.add_tensor_info(gguf_name, byte_shape, _np_dtype("uint8"), math.prod(byte_shape), qtype)
        else:
            dtype = _np_dtype("float32" if qtype == gguf.GGMLQuantizationType.F32 else "float16")
            writer.add_tensor_info(gguf_name, shape, dtype, math.prod(shape) * dtype.itemsize, qtype)
    # Streamed: header, metadata and tensor index first, then one tensor at a time (a 7B model never sits in
    # memory twice).
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    with progress_bar(f"writing the {outtype} GGUF", "tensors") as progress:
        for written, (load, qtype) in enumerate(plans, start=1):
            writer.write_tensor_data(gguf.quants.quantize(load(), qtype))
            progress(written, len(plans))
    writer.close()


def _np_dtype(name: str):
    import numpy as np

    return np.dtype(name)


def _tensor_type(gguf_name: str, shape: tuple[int, ...], outtype: str):
    """As llama.cpp's converter: 1-D tensors and norms stay F32; Q8_0 needs rows in blocks of 32, else F16."""
    from gguf import GGMLQuantizationType as Q

    if len(shape) <= 1 or gguf_name.endswith("_norm.weight"):
        return Q.F32
    if outtype == "q8_0" and shape[-1] % 32 == 0:
        return Q.Q8_0
    return Q.F16


def _rope(hparams: dict) -> dict:
    """transformers 5 keeps rope settings in rope_parameters; older configs in rope_theta + rope_scaling."""
    rope = dict(hparams.get("rope_scaling") or {})
    rope.update(hparams.get("rope_parameters") or {})
    rope.setdefault("rope_theta", hparams.get("rope_theta", 10000.0))
    if "type" in rope and "rope_type" not in rope:
        rope["rope_type"] = rope["type"]
    return rope


def _head_dim(hparams: dict) -> int:
    return hparams.get("head_dim") or hparams["hidden_size"] // hparams["num_attention_heads"]


def _add_hyperparameters(writer, hparams: dict, arch) -> None:
    import gguf

    writer.add_context_length(hparams["max_position_embeddings"])
    writer.add_embedding_length(hparams["hidden_size"])
    writer.add_block_count(hparams["num_hidden_layers"])
    writer.add_feed_forward_length(hparams["intermediate_size"])
    writer.add_head_count(hparams["num_attention_heads"])
    writer.add_head_count_kv(hparams.get("num_key_value_heads", hparams["num_attention_heads"]))
    writer.add_layer_norm_rms_eps(hparams["rms_norm_eps"])
    rope = _rope(hparams)
    writer.add_rope_freq_base(rope["rope_theta"])
    rope_type, factor = rope.get("rope_type"), rope.get("factor")
    if rope_type == "linear" and factor:
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(factor)
    elif rope_type == "yarn" and factor:
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(factor)
        writer.add_rope_scaling_orig_ctx_len(rope["original_max_position_embeddings"])
    if hparams.get("head_dim"):
        writer.add_key_length(hparams["head_dim"])
        writer.add_value_length(hparams["head_dim"])
    if arch == gguf.MODEL_ARCH.LLAMA:
        writer.add_vocab_size(hparams["vocab_size"])
        writer.add_rope_dimension_count(_head_dim(hparams))


def _add_vocabulary(writer, model_dir: Path, hparams: dict) -> None:
    """A byte-level BPE vocabulary (what Llama 3, Mistral's HF tokenizers, Qwen and SmolLM use), as llama.cpp's
    _set_vocab_gpt2: every id up to vocab_size, with control tokens marked, then merges and special ids."""
    import gguf
    from transformers import AutoTokenizer

    if not (model_dir / "tokenizer.json").is_file():
        raise GgufError("GGUF export needs a fast tokenizer (tokenizer.json) next to the model; this model has none")
    spec = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    if '"ByteLevel"' not in json.dumps([spec.get("pre_tokenizer"), spec.get("decoder")]):
        # SentencePiece-style vocabularies (Llama 2, Mistral 7B) are another GGUF tokenizer model ('llama'), which
        # this writer does not make: refuse rather than write a file that tokenizes wrongly.
        raise GgufError("GGUF export supports byte-level BPE tokenizers (Llama 3, Qwen, SmolLM); this model's is "
                        "SentencePiece-style: export the merged model (--merge) and convert it with llama.cpp's "
                        "convert_hf_to_gguf.py")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    vocab = tokenizer.get_vocab()
    vocab_size = max(hparams.get("vocab_size", 0), max(vocab.values()) + 1)
    by_id = {i: token for token, i in vocab.items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        token = by_id[i]
        if i in added:
            special = added[i].special or (token.startswith("<|") and token.endswith("|>"))
            types.append(gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(token)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(tokenizer, model_dir))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(model_dir, load_merges=True).add_to_gguf(writer, quiet=True)


def _pre_tokenizer(tokenizer, model_dir: Path) -> str:
    """llama.cpp's name for how text is split before BPE: by llama.cpp's hash of a known tokenizer, else by the split
    regex itself (a new vocabulary on a known split, as the built-in tiny model's Qwen2 split); anything else gets
    llama.cpp's generic split, with a note."""
    digest = hashlib.sha256(str(tokenizer.encode(CHECK_TEXT)).encode()).hexdigest()
    if digest in PRE_TOKENIZERS:
        return PRE_TOKENIZERS[digest]
    pre = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8")).get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    splits = [p.get("pattern", {}).get("Regex") for p in parts if p.get("type") == "Split"]
    if len(splits) == 1 and splits[0] in SPLIT_REGEXES:
        return SPLIT_REGEXES[splits[0]]
    if not splits and [p.get("type") for p in parts] == ["ByteLevel"] and parts[0].get("use_regex", True):
        return "gpt-2"
    print("note: llama.cpp does not know this tokenizer's pre-tokenizer; its generic split is used, so a few texts "
          "may tokenize differently in llama.cpp and Ollama")
    return "default"


def _tensors(model_dir: Path, hparams: dict, arch):
    """(gguf name, shape, loader) for every tensor, in file order; loaders read one tensor when called."""
    import gguf
    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise GgufError(f"{model_dir} has no .safetensors weights to convert")
    names = gguf.get_tensor_name_map(arch, hparams["num_hidden_layers"])
    heads, kv_heads = hparams["num_attention_heads"], hparams.get("num_key_value_heads")
    tied = hparams.get("tie_word_embeddings", False)
    for file in files:
        with safe_open(file, framework="pt") as f:
            keys = list(f.keys())
        for key in keys:
            if tied and key == "lm_head.weight":
                continue  # llama.cpp reuses the token embedding
            if key.endswith("rotary_emb.inv_freq"):
                continue
            gguf_name = names.get_name(key, try_suffixes=(".weight", ".bias"))
            if gguf_name is None:
                raise GgufError(f"GGUF export does not know the tensor {key}; export the merged model (--merge) and "
                                "convert it with llama.cpp's convert_hf_to_gguf.py")
            permute = None
            if arch == gguf.MODEL_ARCH.LLAMA and key.endswith(("q_proj.weight", "q_proj.bias")):
                permute = heads
            elif arch == gguf.MODEL_ARCH.LLAMA and key.endswith(("k_proj.weight", "k_proj.bias")):
                permute = kv_heads or heads
            with safe_open(file, framework="pt") as f:
                shape = tuple(f.get_slice(key).get_shape())
            yield gguf_name, shape, _loader(file, key, permute)
    if arch == gguf.MODEL_ARCH.LLAMA and _rope(hparams).get("rope_type", "").lower() == "llama3":
        factors = _llama3_rope_factors(hparams)
        yield gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", factors.shape, lambda: factors


def _loader(file: Path, key: str, permute_heads: int | None):
    def load():
        import torch
        from safetensors import safe_open

        with safe_open(file, framework="pt") as f:
            tensor = f.get_tensor(key).to(torch.float32)
        if permute_heads:
            tensor = _undo_rope_permutation(tensor, permute_heads)
        return tensor.numpy()
    return load


def _undo_rope_permutation(weights, heads: int):
    """HF's Llama q/k rows are ordered for rotate-half rope; llama.cpp's llama arch wants interleaved pairs."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _llama3_rope_factors(hparams: dict):
    """Llama 3.1's long-context rope, as llama.cpp's converter writes it: one factor per frequency."""
    import numpy as np

    rope = _rope(hparams)
    dim = _head_dim(hparams)
    freqs = 1.0 / (rope["rope_theta"] ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    factor = rope.get("factor", 8.0)
    low, high = rope.get("low_freq_factor", 1.0), rope.get("high_freq_factor", 4.0)
    old_context = rope.get("original_max_position_embeddings", 8192)
    factors = []
    for freq in freqs:
        wavelength = 2 * math.pi / freq
        if wavelength < old_context / high:
            factors.append(1.0)
        elif wavelength > old_context / low:
            factors.append(factor)
        else:
            smooth = (old_context / wavelength - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Q4_K_M through llama.cpp

def _quantize_q4_k_m(source: Path, target: Path) -> None:
    quantizer = q4_k_m_quantizer()
    if quantizer == "llama_cpp":
        import llama_cpp

        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = LLAMA_FTYPE_MOSTLY_Q4_K_M
        params.nthread = os.cpu_count() or 1
        if llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params)) != 0:
            raise GgufError("llama.cpp could not quantize the model to q4_k_m; use --gguf q8_0 or f16")
        return
    with tempfile.TemporaryFile() as log:
        result = subprocess.run([quantizer, str(source), str(target), "Q4_K_M"], stdout=log, stderr=log, check=False)
        if result.returncode != 0:
            raise GgufError(f"llama-quantize could not quantize the model to q4_k_m (exit {result.returncode}); "
                            "use --gguf q8_0 or f16")
