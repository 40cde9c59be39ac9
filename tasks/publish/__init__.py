"""Publish stage: an export folder → a Hugging Face Hub dataset repo (one atomic commit, none when unchanged)."""
