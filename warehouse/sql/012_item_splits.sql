-- 012: the SFT/RL split over groups (tasks/synthesize/split.py). One row per kept item and synthesis config:
-- its side, the rule that decided it (drawn alone, or the shared key that tied it to its group: path_prefix,
-- anchor, image, answer_entity, answer_text, answer_mention), the group's canonical key and size. The RL side
-- is also recorded in rl_holdout (what synthesis skips and export reads).
CREATE TABLE IF NOT EXISTS item_splits (
    item_id        VARCHAR NOT NULL,
    synthesis_hash VARCHAR NOT NULL,
    side           VARCHAR NOT NULL,          -- sft | rl
    rule           VARCHAR NOT NULL,          -- drawn | path_prefix | anchor | image | answer_entity | answer_text | answer_mention
    shared         VARCHAR[] NOT NULL,        -- every rule through which the item shares a key in its group
    group_key      VARCHAR NOT NULL,
    group_size     INTEGER NOT NULL,
    run_id         VARCHAR,
    created_at     TIMESTAMP,
    PRIMARY KEY (item_id, synthesis_hash)
);
