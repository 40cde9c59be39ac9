"""A tiny vision-language policy built from configs, offline (the ``tiny-cpu`` recipe and the tests).

``build_tiny_vlm(out)`` saves, under ``out``, a LLaVA-style model with random weights — a 2-layer Qwen2
text model (hidden size 32) behind a 1-layer CLIP vision tower on 28×28 images (4 patches of 14 px, so
each image costs 4 tokens) — and a ``LlavaProcessor`` made of a byte-level BPE tokenizer trained in
process on the protocol's own vocabulary (``<think>``, ``<tool_call>``, …, as in
``tests/fakes/hf_serve.py``), a ChatML chat template and the PIL CLIP image processor.

[S] Why LLaVA and not Qwen3-VL on CPU: the Qwen-VL processors need torchvision, which does not import
against the CPU torch build this project pins. The GPU recipe (``recipes/qwen3-vl-8b.yaml``) uses
Qwen3-VL; the rollout and loss code only needs ``input_ids`` + ``pixel_values`` and a processor that
expands ``<image>`` markers, which both families provide.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

CHAT_TEMPLATE = (
    "{% macro render(c) %}{% if c is string %}{{ c }}{% elif c %}{% for b in c %}"
    "{% if b['type'] == 'image' %}<image>{% elif b['type'] == 'text' %}{{ b['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{% endmacro %}"
    "{% for m in messages %}"
    "{% if m['role'] == 'assistant' %}<|im_start|>assistant\n{% generation %}{{ render(m['content']) }}"
    "{% for tc in m['tool_calls'] or [] %}<tool_call>{\"name\": \"{{ tc['function']['name'] }}\", \"arguments\": "
    "{% if tc['function']['arguments'] is string %}{{ tc['function']['arguments'] }}"
    "{% else %}{{ tc['function']['arguments'] | tojson }}{% endif %}}</tool_call>{% endfor %}"
    "<|im_end|>{% endgeneration %}\n"
    "{% elif m['role'] == 'tool' %}<|im_start|>user\n<tool_response>\n{{ render(m['content']) }}\n"
    "</tool_response><|im_end|>\n"
    "{% else %}<|im_start|>{{ m['role'] }}\n{{ render(m['content']) }}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""ChatML as the rollout writes it: a tool result is a user turn wrapped in ``<tool_response>`` (as
``toolenv.protocol.format_tool_response`` does), an assistant action is ``<tool_call>{"name", "arguments"}
</tool_call>`` after the ``<think>`` text, and ``{% generation %}`` marks what SFT supervises (the assistant
turn up to and including ``<|im_end|>``), so TRL's ``assistant_only_loss`` masks system, user and tool tokens."""
PROTOCOL_TOKENS = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<response>", "</response>",
                   "<tool_response>", "</tool_response>", '{"name": "', '", "arguments": {"', '": "', '"}}',
                   "text_search", "image_search"]
"""Whole tokens for the turn protocol's tags and the tool-call JSON skeleton (ordinary added tokens, so
``decode(skip_special_tokens=True)`` keeps them): [S] a tiny model learns the format in a few hundred steps
instead of spelling tags and JSON punctuation byte by byte (a tokenizer-friendly format for CPU runs)."""
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<image>", "<pad>"]
_SENTENCES = [
    "<think> the image shows a zoo sign; search it </think>",
    '<tool_call>{"name": "text_search", "arguments": {"q": "australia zoo"}}</tool_call>',
    '<tool_call>{"name": "image_search", "arguments": {"image": "img_1"}}</tool_call>',
    '<tool_call>{"name": "crop", "arguments": {"image": "img_1", "x": 0, "y": 0, "width": 8, "height": 8}}</tool_call>',
    "<response> Australia Zoo </response> <tool_response> [Passage 1] title url summary </tool_response>",
    "which zoo did the crocodile hunter run? australia zoo in queensland, 1970 1982 bridge river city",
    "[ERROR:protocol] Invalid content format: the turn must contain tool_call or response",
]
IMAGE_SIZE = 28
PATCH_SIZE = 14


def build_tiny_vlm(out: Path, *, seed: int = 0, hidden_size: int = 32, layers: int = 2, vocab_size: int = 600,
                   texts: Sequence[str] = (), regex: bool = True) -> Path:
    """Save a processor + tiny random LLaVA (Qwen2 text, CLIP vision) to ``out``; returns ``out``.

    ``texts`` (e.g. the SFT export's messages) join the protocol sentences the byte-level BPE is trained on,
    so common words become single tokens and sequences get shorter; ``regex=False`` lets merges cross word
    boundaries (whole phrases of the fixed system prompt become one token)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
        Qwen2Config,
    )

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=regex)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([*(_SENTENCES * 20), *texts], trainer)
    tok.add_tokens(PROTOCOL_TOKENS)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>",  # type: ignore[no-untyped-call]
                                   eos_token="<|im_end|>", pad_token="<pad>",
                                   extra_special_tokens={"image_token": "<image>"})
    fast.chat_template = CHAT_TEMPLATE
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": IMAGE_SIZE},
                                            crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=fast, patch_size=PATCH_SIZE,  # type: ignore[no-untyped-call]
                               vision_feature_select_strategy="default", chat_template=CHAT_TEMPLATE,
                               num_additional_image_tokens=1)
    processor.save_pretrained(out)
    image_token_id = fast.convert_tokens_to_ids("<image>")
    text = Qwen2Config(vocab_size=len(fast), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                       num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                       max_position_embeddings=65_536, tie_word_embeddings=True,
                       bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                       pad_token_id=fast.pad_token_id)
    vision = CLIPVisionConfig(hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=1,
                              num_attention_heads=4, image_size=IMAGE_SIZE, patch_size=PATCH_SIZE,
                              projection_dim=hidden_size)
    # image_token_id and the special-token ids are accepted by PretrainedConfig's attribute map at run time;
    # transformers' annotations list only image_token_index
    cfg = LlavaConfig(text_config=text, vision_config=vision, image_token_id=image_token_id,  # type: ignore[call-arg]
                      vision_feature_select_strategy="default", vision_feature_layer=-1,
                      pad_token_id=fast.pad_token_id, eos_token_id=fast.eos_token_id,
                      bos_token_id=fast.bos_token_id)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(cfg)
    model.generation_config.pad_token_id = fast.pad_token_id
    model.generation_config.eos_token_id = fast.eos_token_id
    model.save_pretrained(out)
    return out
