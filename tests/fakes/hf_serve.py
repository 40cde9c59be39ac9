"""Build a tiny chat model offline and run ``transformers serve`` on it (for the teacher-client test).

``build_tiny_chat_model(dir)``: a byte-level BPE tokenizer trained in-process on a few sentences (with a
ChatML-style chat template) and a randomly initialised 2-layer Llama (hidden size 32) saved as a local
model directory. No download: everything comes from configs.

``python -m tests.fakes.hf_serve MODEL_DIR PORT`` runs the real ``transformers serve`` CLI (its FastAPI
app, model manager and generation) pinned to that directory on 127.0.0.1:PORT, CPU only. transformers
5.23's serve always passes ``device_map`` to ``from_pretrained``, which requires ``accelerate`` even for
the CPU; when ``accelerate`` is not installed, this launcher turns a CPU ``device_map`` into ``None``
(the same placement, without accelerate's dispatch) and changes nothing else.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SENTENCES = ["hello world, the quick brown fox jumps over the lazy dog",
             "which zoo did the crocodile hunter run? australia zoo in queensland",
             "search the image, then answer with one entity"]


def build_tiny_chat_model(out: Path) -> Path:
    """Save a tokenizer + tiny random Llama to ``out``; returns ``out``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>", "<|im_start|>",
                                                                  "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(SENTENCES * 10, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>",  # type: ignore[no-untyped-call]
                                   eos_token="</s>", pad_token="</s>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(out)
    return out


def _cpu_without_accelerate() -> None:
    import transformers.modeling_utils as modeling_utils

    original = modeling_utils.check_and_set_device_map  # type: ignore[attr-defined]

    def check(device_map: Any) -> Any:
        if device_map == "cpu":
            return None
        return original(device_map)

    modeling_utils.check_and_set_device_map = check  # type: ignore[attr-defined]


def main(model_dir: str, port: str) -> None:
    if importlib.util.find_spec("accelerate") is None:
        _cpu_without_accelerate()
    from transformers.cli.transformers import main as transformers_cli

    sys.argv = ["transformers", "serve", model_dir, "--host", "127.0.0.1", "--port", port, "--device", "cpu"]
    transformers_cli()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main(*sys.argv[1:3])
