"""The training stage's launcher: runs ``python -m training.grpo`` as a subprocess (the dependency
boundary: this package never imports torch, transformers or trl)."""
