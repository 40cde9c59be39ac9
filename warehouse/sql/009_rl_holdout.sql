-- 009: the RL hold-out (PAPER.md §6.6, §12.E.25). SearchVL-RL items are a random draw from the filtered,
-- enhanced pool, disjoint from the SFT items. The synthesis stage sets that share aside *before* the teacher
-- runs (a seeded hash of the item id, so the choice is stable across reruns, shards and a growing pool) and
-- records it here; export reads its RL rows from this table. Without it, RL would get only the items the
-- teacher failed on: a biased, mostly unsolvable set.
CREATE TABLE IF NOT EXISTS rl_holdout (
    item_id        VARCHAR NOT NULL,
    synthesis_hash VARCHAR NOT NULL,          -- the synthesis config that set it aside
    run_id         VARCHAR,
    created_at     TIMESTAMP,
    PRIMARY KEY (item_id, synthesis_hash)
);
