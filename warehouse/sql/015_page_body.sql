-- 015: each article's body text on its own row: the sentences that carry its links, in page order, each once,
-- minus those already in its lead, joined by a blank line (pages keep only their lead; links keep their sentence).
-- Written with the page (warehouse/pages.py::page_body) so the search indexes read one row per page instead of
-- aggregating every link's sentence over the whole corpus; existing rows are filled here, once, the same way.
ALTER TABLE pages ADD COLUMN IF NOT EXISTS body_text VARCHAR;

UPDATE pages SET body_text = b.body
FROM (
    SELECT s.wiki, s.src_title AS title, string_agg(s.sentence, chr(10) || chr(10) ORDER BY s.ord) AS body
    FROM (
        SELECT l.wiki, l.src_title, l.sentence, min(l.ordinal) AS ord FROM links l
        JOIN pages p ON p.wiki = l.wiki AND p.title = l.src_title
        WHERE l.sentence IS NOT NULL AND length(l.sentence) > 0
          AND position(l.sentence IN coalesce(p.lead_text, '')) = 0
        GROUP BY ALL
    ) s
    GROUP BY s.wiki, s.src_title
) b
WHERE pages.wiki = b.wiki AND pages.title = b.title AND pages.body_text IS NULL;
