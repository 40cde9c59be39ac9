-- The whole pipeline's funnel: what each stage kept and dropped, by reason (the dataset card's table).
SELECT stage, outcome, reason, n FROM (
    SELECT 'ingest' AS stage, 'pages' AS outcome, '' AS reason, count(*) AS n FROM pages
        WHERE redirect_target IS NULL AND namespace = 0
    UNION ALL SELECT stage, 'dropped', reason, count(*) FROM unit_rejects GROUP BY ALL
    UNION ALL SELECT 'sample_paths', 'kept', '', count(*) FROM paths
    UNION ALL SELECT 'questions', 'accepted', '', count(*) FROM question_items WHERE status = 'accepted'
    UNION ALL SELECT 'pool', 'in', source, count(*) FROM pool_items GROUP BY ALL
    UNION ALL SELECT 'pool', 'dropped', stage || ':' || reason, count(*) FROM pool_rejects GROUP BY ALL
    UNION ALL SELECT 'filter', status, coalesce(reason, ''), count(*) FROM filter_outcomes GROUP BY ALL
    UNION ALL SELECT 'enhance', 'degraded', kind, count(*) FROM enhancements GROUP BY ALL
    UNION ALL SELECT 'synthesis', 'held_out_for_rl', '', count(DISTINCT item_id) FROM rl_holdout HAVING count(*) > 0
    UNION ALL SELECT 'synthesis', status, coalesce(reject_reason, ''), count(*) FROM trajectories GROUP BY ALL
    UNION ALL SELECT 'export', config || '/' || split, '', count(*) FROM export_rows
        WHERE export_id = (SELECT export_id FROM exports ORDER BY created_at DESC LIMIT 1) GROUP BY ALL
)
ORDER BY CASE stage WHEN 'ingest' THEN 0 WHEN 'sample_paths' THEN 1 WHEN 'questions' THEN 2
         WHEN 'pool' THEN 3 WHEN 'filter' THEN 4 WHEN 'enhance' THEN 5 WHEN 'synthesis' THEN 6 WHEN 'export' THEN 7 ELSE 8 END,
         stage, outcome, n DESC
