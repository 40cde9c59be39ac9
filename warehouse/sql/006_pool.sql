-- 006: the VQA pool (PAPER.md §5, §12.D): vqa_items ∪ external VQA sources, decontaminated against
-- evaluation benchmarks; then the enhancement subset (one degraded image per chosen item).
-- Images (external and degraded) are content-addressed rows of image_blobs like every other image.
CREATE TABLE IF NOT EXISTS pool_items (
    item_id      VARCHAR PRIMARY KEY,         -- wiki: the vqa_items id; external: <source>:hash(row id | content)
    run_id       VARCHAR,
    source       VARCHAR NOT NULL,            -- wiki | the configured source name (livevqa, fvqa, …)
    question     VARCHAR NOT NULL,
    answer       VARCHAR NOT NULL,
    aliases      VARCHAR[] NOT NULL,
    image_sha256 VARCHAR,                     -- image_blobs.sha256; NULL when only a URL is known
    image_url    VARCHAR,                     -- recorded, never fetched
    provenance   JSON NOT NULL,               -- wiki: path_id, wiki, questions_hash, licence…; external: file, row, id
    created_at   TIMESTAMP
);

CREATE TABLE IF NOT EXISTS pool_rejects (
    item_id      VARCHAR PRIMARY KEY,         -- the item id, or <source>:row<n> for a row with no usable id
    run_id       VARCHAR,
    source       VARCHAR NOT NULL,
    stage        VARCHAR NOT NULL,            -- merge | decontam
    reason       VARCHAR NOT NULL,            -- missing_question | bad_image | duplicate | question_overlap | image_match …
    benchmark    VARCHAR,                     -- decontam: the benchmark that matched
    matched_id   VARCHAR,                     -- decontam: which benchmark row
    matched_text VARCHAR,                     -- decontam: its question (text match) or image reference
    distance     DOUBLE,                      -- image: Hamming bits; text: n-gram overlap fraction
    detail       VARCHAR,
    created_at   TIMESTAMP
);

CREATE TABLE IF NOT EXISTS enhancements (
    item_id         VARCHAR PRIMARY KEY,
    run_id          VARCHAR,
    kind            VARCHAR NOT NULL,         -- blur | downsample | perspective
    params          JSON NOT NULL,            -- sigma | factor + resample | corners + fill, and the seed
    original_sha256 VARCHAR NOT NULL,
    degraded_sha256 VARCHAR NOT NULL,         -- image_blobs.sha256 of the degraded PNG
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    size_bytes      BIGINT NOT NULL,
    created_at      TIMESTAMP
);

-- Pool items with their image files and, for the enhancement subset, the degraded image and its kind.
CREATE OR REPLACE VIEW pool_view AS
    SELECT p.item_id, p.source, p.question, p.answer, p.aliases, p.image_sha256, ob.path AS image_path,
           p.image_url, e.kind AS degradation, e.params AS degradation_params,
           e.degraded_sha256, db.path AS degraded_path, p.provenance
    FROM pool_items p
    LEFT JOIN image_blobs ob ON ob.sha256 = p.image_sha256
    LEFT JOIN enhancements e ON e.item_id = p.item_id
    LEFT JOIN image_blobs db ON db.sha256 = e.degraded_sha256;
