-- Every dropped unit with its reason, across stages: `rejects` (ingest, sample_paths, questions, export, …),
-- the pool's merge/decontamination drops, the shortcut filter's drops and failures, and rejected or
-- surplus trajectories. Parameter $stage: a stage name to keep, or NULL/'' for all.
SELECT stage, unit_id, reason, detail, run_id, created_at FROM (
    SELECT stage, unit_id, reason, detail, run_id, created_at FROM rejects
    UNION ALL
    SELECT 'pool', item_id, stage || ':' || reason,
           coalesce(detail, '') || CASE WHEN benchmark IS NULL THEN '' ELSE ' benchmark=' || benchmark ||
           ' matched=' || coalesce(matched_id, '') END, run_id, created_at FROM pool_rejects
    UNION ALL
    SELECT 'filter', item_id, status || ':' || coalesce(reason, ''), pass_at_k::VARCHAR, run_id, created_at
        FROM filter_outcomes WHERE status <> 'kept'
    UNION ALL
    SELECT 'synthesis', trajectory_id, status || ':' || coalesce(reject_reason, ''),
           'item ' || item_id || ', ' || finish_reason || ', ' || tool_calls || ' tool calls', run_id, created_at
        FROM trajectories WHERE status <> 'accepted'
)
WHERE coalesce($stage, '') = '' OR stage = $stage
ORDER BY stage, reason, unit_id
