-- Articles of one wiki in title order with what seed eligibility needs.
-- $wiki: the wiki (enwiki, ltgwiki, …)
SELECT p.title,
       p.infobox_type,
       coalesce(d.in_degree, 0)         AS in_degree,
       p.is_disambiguation,
       coalesce(img.min_side, 0)         AS image_min_side
FROM pages p
LEFT JOIN page_degrees d ON d.wiki = p.wiki AND d.title = p.title
LEFT JOIN (
    SELECT r.wiki, r.title, max(least(b.width, b.height)) AS min_side
    FROM image_refs r
    JOIN image_files f ON f.wiki = r.wiki AND f.file_name = r.file_name
    JOIN image_blobs b ON b.sha256 = f.sha256
    WHERE r.role <> 'commons'   -- a seed needs an image of its own page, not a Commons search hit
    GROUP BY ALL
) img ON img.wiki = p.wiki AND img.title = p.title
WHERE p.wiki = $wiki AND p.namespace = 0 AND p.redirect_target IS NULL
ORDER BY p.title
