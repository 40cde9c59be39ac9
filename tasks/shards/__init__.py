"""Sharded runs: launch one ``searchvl run --shard i/N`` worker per shard, then merge their warehouses."""
