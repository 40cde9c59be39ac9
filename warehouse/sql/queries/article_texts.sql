-- Title, lead and infobox (one "- field: value" line per field) of the articles of one wiki whose title is in
-- [$lo, $hi], in title order:
-- the question stage's uniqueness index documents (article_documents.sql adds body sentences and aliases).
-- $wiki: the wiki; $lo, $hi: the first and last title of the range
SELECT title,
       coalesce(lead_text, '') AS lead,
       coalesce(array_to_string(list_transform(map_entries(infobox),
                lambda e: '- ' || replace(e.key, '_', ' ') || ': ' || e.value), chr(10)), '') AS box,
       NULL::VARCHAR AS body,
       []::VARCHAR[] AS aliases
FROM pages
WHERE wiki = $wiki AND namespace = 0 AND redirect_target IS NULL AND title BETWEEN $lo AND $hi
ORDER BY title
