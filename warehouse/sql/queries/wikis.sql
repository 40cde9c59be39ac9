-- Wikis that have articles.
SELECT DISTINCT wiki FROM pages WHERE namespace = 0 AND redirect_target IS NULL ORDER BY wiki
