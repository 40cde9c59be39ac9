-- The question funnel: paths → canonical → rewritten → grounded → gated, with drops by reason.
WITH stages(ord, stage, kept_as) AS (
    VALUES (1, 'canonical', 'canonical'), (2, 'rewrite', 'rewritten'), (3, 'ground', 'grounded'), (4, 'gate', 'gated')
), q AS (
    SELECT coalesce(list_position(['canonical', 'rewrite', 'ground', 'gate'], reject_stage), 5) AS reached,
           reject_reason
    FROM question_items
)
SELECT ord, step, outcome, reason, n FROM (
    SELECT 0 AS ord, 'paths' AS step, 'in' AS outcome, '' AS reason, count(*) AS n FROM paths
    UNION ALL
    SELECT 0, 'paths', 'pending', '', count(*) FROM paths
        WHERE path_id NOT IN (SELECT path_id FROM question_items)
    UNION ALL
    SELECT s.ord, s.kept_as, 'kept', '', count(q.reached) FILTER (WHERE q.reached > s.ord)
        FROM stages s LEFT JOIN q ON true GROUP BY ALL
    UNION ALL
    SELECT s.ord, s.kept_as, 'dropped', q.reject_reason, count(*)
        FROM stages s JOIN q ON q.reached = s.ord GROUP BY ALL
)
ORDER BY ord, outcome = 'dropped', n DESC, reason
