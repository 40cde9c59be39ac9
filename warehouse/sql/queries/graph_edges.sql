-- Distinct article→article edges of one wiki (redirects resolved); the first link carries the context.
-- $wiki: the wiki
WITH art AS (
    SELECT title, row_number() OVER (ORDER BY title) - 1 AS id
    FROM pages WHERE wiki = $wiki AND namespace = 0 AND redirect_target IS NULL
)
SELECT s.id AS src, d.id AS dst,
       arg_min(r.anchor_text, r.ordinal) AS anchor_text,
       arg_min(r.sentence, r.ordinal)    AS sentence,
       arg_min(r.infobox_key, r.ordinal) AS infobox_key
FROM resolved_links r
JOIN art s ON s.title = r.src_title
JOIN art d ON d.title = r.dst_title
WHERE r.wiki = $wiki AND s.id <> d.id
GROUP BY s.id, d.id
ORDER BY s.id, d.id
