"""Typed contracts that cross a boundary (stage → warehouse → shard → trainer). Imports nothing of ours."""
