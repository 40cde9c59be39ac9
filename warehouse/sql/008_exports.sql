-- 008: exports (PAPER.md §6.5-6.6, §12.E): one row per written export folder and one row per exported
-- shard row, so "which items went to SFT / RL, in which export" is a query and SFT/RL stay disjoint.
CREATE TABLE IF NOT EXISTS exports (
    export_id     VARCHAR PRIMARY KEY,        -- = export_hash: identity of (rows exported, export config)
    name          VARCHAR NOT NULL,           -- folder name under <data_dir>/export/, states the real counts
    run_id        VARCHAR,
    folder        VARCHAR NOT NULL,
    sft_rows      INTEGER NOT NULL,
    rl_train      INTEGER NOT NULL,
    rl_validation INTEGER NOT NULL,
    shard_files   INTEGER NOT NULL,
    bytes         BIGINT NOT NULL,
    config        JSON NOT NULL,
    created_at    TIMESTAMP
);

CREATE TABLE IF NOT EXISTS export_rows (
    export_id VARCHAR NOT NULL,
    config    VARCHAR NOT NULL,               -- sft | rl
    split     VARCHAR NOT NULL,               -- train | validation
    row_id    VARCHAR NOT NULL,               -- trajectory id (sft) | item id (rl)
    item_id   VARCHAR NOT NULL,
    shard     VARCHAR NOT NULL,               -- file, relative to the export folder
    PRIMARY KEY (export_id, config, row_id)
);
