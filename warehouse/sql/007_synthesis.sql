-- 007: the difficulty filter (shortcut / one-step collapse, PAPER.md §5) and trajectory synthesis with
-- its judges (§6). Every solver answer, every rollout, every turn and every rejection is a row.

-- One row per (item, gate, attempt): what the solver answered with that gate's budget, and the verdict.
CREATE TABLE IF NOT EXISTS difficulty_verdicts (
    item_id     VARCHAR NOT NULL,
    gate        VARCHAR NOT NULL,             -- no_tool | one_image_search | one_text_search
    attempt     INTEGER NOT NULL,             -- 0 .. attempts-1 (pass@k)
    filter_hash VARCHAR NOT NULL,             -- filter config identity
    run_id      VARCHAR,
    solver      VARCHAR NOT NULL,             -- path-guided | <model>
    tool_call   VARCHAR,                      -- the single call allowed ("" for no_tool)
    observation VARCHAR,                      -- what it returned (truncated)
    answer      VARCHAR,
    correct     BOOLEAN NOT NULL,
    judge       VARCHAR NOT NULL,             -- alias-match | <judge model>
    error       VARCHAR,                      -- solver call failure (then correct = false)
    created_at  TIMESTAMP,
    PRIMARY KEY (item_id, filter_hash, gate, attempt)
);

-- One row per item and filter config: kept, or dropped by the first gate it was solved under.
CREATE TABLE IF NOT EXISTS filter_outcomes (
    item_id     VARCHAR NOT NULL,
    filter_hash VARCHAR NOT NULL,
    run_id      VARCHAR,
    status      VARCHAR NOT NULL,             -- kept | dropped | failed
    reason      VARCHAR,                      -- solved_no_tool | solved_one_image_search | solved_one_text_search | <error>
    pass_at_k   JSON,                         -- {gate: correct attempts / attempts}
    created_at  TIMESTAMP,
    PRIMARY KEY (item_id, filter_hash)
);

CREATE TABLE IF NOT EXISTS trajectories (
    trajectory_id     VARCHAR PRIMARY KEY,    -- hash(item, rollout, synthesis config)
    item_id           VARCHAR NOT NULL,
    rollout           INTEGER NOT NULL,
    synthesis_hash    VARCHAR NOT NULL,
    run_id            VARCHAR,
    teacher           VARCHAR NOT NULL,       -- path-guided | <model>
    degradation       VARCHAR,                -- blur | downsample | perspective (enhancement subset)
    finish_reason     VARCHAR NOT NULL,       -- answered | max_turns | consecutive_errors | invalid_item | llm_error:…
    final_answer      VARCHAR,
    n_turns           INTEGER NOT NULL,       -- assistant turns
    tool_calls        INTEGER NOT NULL,
    tools_used        VARCHAR[],
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    answer_correct    BOOLEAN,
    answer_judge      VARCHAR,                -- alias-match | <model>
    answer_reason     VARCHAR,
    process_score     DOUBLE,
    process_judge     VARCHAR,                -- rules | <model>
    process_reasons   VARCHAR[],
    one_step_collapse BOOLEAN NOT NULL,
    status            VARCHAR NOT NULL,       -- accepted | rejected | surplus (over keep_per_item)
    reject_reason     VARCHAR,                -- answer_wrong | hedged | no_answer | process_low | one_step_collapse | …
    prompts           JSON,                   -- {template: hash}
    created_at        TIMESTAMP
);

CREATE TABLE IF NOT EXISTS trajectory_turns (
    trajectory_id VARCHAR NOT NULL,
    idx           INTEGER NOT NULL,
    role          VARCHAR NOT NULL,           -- system | user | assistant | tool
    content       VARCHAR NOT NULL,
    image_sha256s VARCHAR[] NOT NULL,         -- image_blobs.sha256, in attachment order
    tool          VARCHAR,
    arguments     JSON,
    error         VARCHAR,                    -- toolenv error kind of this step
    tokens        INTEGER,
    cached        BOOLEAN,
    PRIMARY KEY (trajectory_id, idx)
);

-- Items that finished synthesis for a config (so a rerun skips them), even with no accepted rollout.
CREATE TABLE IF NOT EXISTS synthesis_items (
    item_id        VARCHAR NOT NULL,
    synthesis_hash VARCHAR NOT NULL,
    run_id         VARCHAR,
    accepted       INTEGER NOT NULL,
    created_at     TIMESTAMP,
    PRIMARY KEY (item_id, synthesis_hash)
);

CREATE OR REPLACE VIEW accepted_trajectories AS
    SELECT t.*, p.source, p.question, p.answer, p.image_sha256
    FROM trajectories t JOIN pool_items p USING (item_id)
    WHERE t.status = 'accepted';
