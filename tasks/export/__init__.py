"""Export stage: SFT/RL parquet shards with embedded images, a dataset card and a manifest (PAPER.md §6.5-6.6)."""
