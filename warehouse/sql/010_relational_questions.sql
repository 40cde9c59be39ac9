-- 010: relational questions (issue 13). Each rewrite step records the two invariants of its descriptor:
-- unique given the chain (among the previous node's out-links with the same relation and type) and its rank
-- when searched alone (not self-sufficient: rank > k). Items carry generated answer aliases and their length.
ALTER TABLE rewrite_steps ADD COLUMN IF NOT EXISTS alone_rank INTEGER;      -- NULL: not in the top 10
ALTER TABLE rewrite_steps ADD COLUMN IF NOT EXISTS chain_unique VARCHAR;    -- pass | fail | NULL (LLM path)
ALTER TABLE rewrite_steps ADD COLUMN IF NOT EXISTS chain_detail VARCHAR;
ALTER TABLE question_items ADD COLUMN IF NOT EXISTS answer_aliases VARCHAR[];
ALTER TABLE question_items ADD COLUMN IF NOT EXISTS question_words INTEGER;

CREATE OR REPLACE VIEW vqa_items AS
    SELECT q.item_id, q.path_id, q.question, q.answer, q.method, q.obfuscated,
           p.wiki, p.domain, p.hops, p.nodes, p.edges, p.answer_attribute,
           q.image_sha256, b.path AS image_path, q.image_file_name, q.image_width, q.image_height,
           q.image_license, q.image_author, q.image_source_url, q.image_score, q.image_method,
           q.canonical, q.rewritten, q.questions_hash, s.dump_date, q.created_at,
           coalesce(q.answer_aliases, []::VARCHAR[]) AS answer_aliases, q.question_words
    FROM question_items q
    JOIN paths p USING (path_id)
    LEFT JOIN image_blobs b ON b.sha256 = q.image_sha256
    LEFT JOIN pages pg ON pg.wiki = p.wiki AND pg.title = p.seed_title
    LEFT JOIN sources s ON s.source_id = pg.source_id
    WHERE q.status = 'accepted';
