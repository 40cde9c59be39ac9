-- The search index's document of every article of one wiki, in title order (streamed in batches: nothing here is
-- held whole in Python): title, lead, infobox as one "- field: value" line per field, the body sentences that
-- carry its links (in page order, minus those already in the lead; pages keep only their lead, links keep their
-- sentence), and the names it is also known by (redirects, bold lead names, infobox names; not the title).
-- $wiki: the wiki
WITH body AS (
    SELECT s.src_title AS title, string_agg(s.sentence, chr(10) || chr(10) ORDER BY s.ord) AS body
    FROM (
        SELECT l.src_title, l.sentence, min(l.ordinal) AS ord FROM links l
        JOIN pages p ON p.wiki = l.wiki AND p.title = l.src_title
        WHERE l.wiki = $wiki AND l.sentence IS NOT NULL AND length(l.sentence) > 0
          AND position(l.sentence IN coalesce(p.lead_text, '')) = 0
        GROUP BY ALL
    ) s
    GROUP BY s.src_title
),
names AS (
    SELECT title, list(DISTINCT alias ORDER BY alias) AS aliases FROM all_aliases
    WHERE wiki = $wiki AND kind <> 'title' AND alias <> title
    GROUP BY title
)
SELECT p.title,
       coalesce(p.lead_text, '') AS lead,
       coalesce(array_to_string(list_transform(map_entries(p.infobox),
                lambda e: '- ' || replace(e.key, '_', ' ') || ': ' || e.value), chr(10)), '') AS box,
       b.body,
       coalesce(n.aliases, []) AS aliases
FROM pages p
LEFT JOIN body b ON b.title = p.title
LEFT JOIN names n ON n.title = p.title
WHERE p.wiki = $wiki AND p.namespace = 0 AND p.redirect_target IS NULL
ORDER BY p.title
