-- The search index's document of every article of one wiki whose title is in [$lo, $hi], in title order (read a
-- range of titles at a time, so neither Python nor DuckDB's sort holds every page): title, lead, infobox as one "- field: value" line per field, the body sentences that
-- carry its links (pages.body_text, written with the page), and the names it is also known by (redirects, bold
-- lead names, infobox names; not the title).
-- $wiki: the wiki; $lo, $hi: the first and last title of the range
WITH names AS (
    SELECT title, list(DISTINCT alias ORDER BY alias) AS aliases FROM all_aliases
    WHERE wiki = $wiki AND kind <> 'title' AND alias <> title AND title BETWEEN $lo AND $hi
    GROUP BY title
)
SELECT p.title,
       coalesce(p.lead_text, '') AS lead,
       coalesce(array_to_string(list_transform(map_entries(p.infobox),
                lambda e: '- ' || replace(e.key, '_', ' ') || ': ' || e.value), chr(10)), '') AS box,
       p.body_text AS body,
       coalesce(n.aliases, []) AS aliases
FROM pages p
LEFT JOIN names n ON n.title = p.title
WHERE p.wiki = $wiki AND p.namespace = 0 AND p.redirect_target IS NULL AND p.title BETWEEN $lo AND $hi
ORDER BY p.title
