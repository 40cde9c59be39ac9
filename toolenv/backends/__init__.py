"""Search backends: local indexes over ingested pages and images, and remote API adapters."""
