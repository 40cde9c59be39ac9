"""The training stage's launcher: runs ``python -m training.run`` (SFT or GRPO, as the recipe says) as a
subprocess (the dependency boundary: this package never imports torch, transformers or trl)."""
