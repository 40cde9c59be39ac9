-- 003: the question stage (PAPER.md §3-4): one row per (path, question config), its rewrite steps
-- and gate verdicts; accepted items are the vqa_items view. Rejects go to `rejects` (stage questions).
CREATE TABLE IF NOT EXISTS question_items (
    item_id            VARCHAR PRIMARY KEY,   -- hash(path_id, questions config)
    path_id            VARCHAR NOT NULL,
    run_id             VARCHAR,
    questions_hash     VARCHAR NOT NULL,
    method             VARCHAR NOT NULL,      -- rule-based | llm:<model>
    status             VARCHAR NOT NULL,      -- accepted | rejected
    reject_stage       VARCHAR,               -- canonical | rewrite | ground | gate
    reject_reason      VARCHAR,
    detail             VARCHAR,
    canonical          VARCHAR,
    rewritten          VARCHAR,
    question           VARCHAR,               -- final text: anchor replaced by the image reference
    answer             VARCHAR NOT NULL,
    obfuscated         BOOLEAN NOT NULL,
    image_sha256       VARCHAR,
    image_file_name    VARCHAR,
    image_width        INTEGER,
    image_height       INTEGER,
    image_source_url   VARCHAR,
    image_author       VARCHAR,
    image_license      VARCHAR,
    image_score        DOUBLE,
    image_method       VARCHAR,               -- clip:<model> | heuristic
    image_candidates   INTEGER,
    referring_expression VARCHAR,
    prompts            JSON,                  -- {template: hash} of the prompts used (empty offline)
    created_at         TIMESTAMP
);

CREATE TABLE IF NOT EXISTS rewrite_steps (
    item_id        VARCHAR NOT NULL,
    step           INTEGER NOT NULL,          -- 0 = answer obfuscation, then farthest bridge first
    entity         VARCHAR NOT NULL,
    candidates     STRUCT(candidate VARCHAR, answer_invariance VARCHAR, uniqueness VARCHAR,
                          non_leakage VARCHAR, detail VARCHAR)[] NOT NULL,
    chosen         VARCHAR,
    question_after VARCHAR NOT NULL,
    method         VARCHAR NOT NULL,
    PRIMARY KEY (item_id, step)
);

CREATE TABLE IF NOT EXISTS gate_verdicts (
    item_id VARCHAR NOT NULL,
    gate    VARCHAR NOT NULL,                 -- masking | uniqueness | visual_relevance | answer_length
    score   DOUBLE NOT NULL,
    verdict VARCHAR NOT NULL,                 -- pass | fail
    detail  VARCHAR,
    PRIMARY KEY (item_id, gate)
);

-- Accepted, grounded, gated items with full provenance (path, image licence, dump date).
CREATE OR REPLACE VIEW vqa_items AS
    SELECT q.item_id, q.path_id, q.question, q.answer, q.method, q.obfuscated,
           p.wiki, p.domain, p.hops, p.nodes, p.edges, p.answer_attribute,
           q.image_sha256, b.path AS image_path, q.image_file_name, q.image_width, q.image_height,
           q.image_license, q.image_author, q.image_source_url, q.image_score, q.image_method,
           q.canonical, q.rewritten, q.questions_hash, s.dump_date, q.created_at
    FROM question_items q
    JOIN paths p USING (path_id)
    LEFT JOIN image_blobs b ON b.sha256 = q.image_sha256
    LEFT JOIN pages pg ON pg.wiki = p.wiki AND pg.title = p.seed_title
    LEFT JOIN sources s ON s.source_id = pg.source_id
    WHERE q.status = 'accepted';

-- Model-call memo shared by every stage that calls a language model: a rerun re-sends nothing that
-- completed. Failed calls are kept with their error (and retried on the next run).
CREATE TABLE IF NOT EXISTS llm_calls (
    request_hash      VARCHAR PRIMARY KEY,    -- sha256(model, messages, sampling params)
    model             VARCHAR NOT NULL,
    template          VARCHAR,
    template_hash     VARCHAR,
    response          VARCHAR,
    error             VARCHAR,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    latency_ms        DOUBLE,
    created_at        TIMESTAMP
);
