-- Every article→article link of one wiki (redirects resolved) with its text, in no order: streamed in batches
-- by whatever reads every edge's text once (the relation reader), so no text column is held whole.
-- $wiki: the wiki
WITH art AS (
    SELECT title, row_number() OVER (ORDER BY title) - 1 AS id
    FROM pages WHERE wiki = $wiki AND namespace = 0 AND redirect_target IS NULL
)
SELECT s.id AS src, d.id AS dst, r.ordinal, r.anchor_text, r.sentence, r.infobox_key
FROM resolved_links r
JOIN art s ON s.title = r.src_title
JOIN art d ON d.title = r.dst_title
WHERE r.wiki = $wiki AND s.id <> d.id
