-- Every unit each stage kept or dropped, as (stage, outcome, unit_hash): what `searchvl run` compares before and
-- after a run to say, stage by stage in pipeline order, what is new, what was already there and what was
-- dropped. Units are content-addressed ids, so a unit rewritten identically counts as unchanged. A drop's hash
-- includes its reason. Export units are the rows of the newest export.
SELECT stage, outcome, hash(unit) AS unit_hash FROM (
    SELECT 'ingest' AS stage, 'kept' AS outcome, wiki || ':' || title AS unit FROM pages
    UNION ALL SELECT 'sample_paths', 'kept', path_id FROM paths
    UNION ALL SELECT 'questions', 'kept', item_id FROM question_items WHERE status = 'accepted'
    UNION ALL SELECT 'pool', 'kept', item_id FROM pool_items
    UNION ALL SELECT 'filter', 'kept', item_id FROM filter_outcomes WHERE status = 'kept'
    UNION ALL SELECT 'enhance', 'kept', item_id || ':' || kind FROM enhancements
    UNION ALL SELECT 'synthesis', 'kept', trajectory_id FROM trajectories WHERE status = 'accepted'
    UNION ALL SELECT 'synthesis', 'kept', 'rl:' || item_id FROM rl_holdout
    UNION ALL SELECT 'export', 'kept', config || '/' || split || ':' || row_id FROM export_rows
        WHERE export_id = (SELECT export_id FROM exports ORDER BY created_at DESC LIMIT 1)
    UNION ALL SELECT stage, 'dropped', unit_id || ' ' || reason FROM rejects
)
