-- The synthesis funnel: pool → shortcut filter (drops per gate) → enhancement → RL hold-out → trajectories
-- by outcome, with the average tool-call count of accepted trajectories.
SELECT ord, step, outcome, reason, n, avg_tool_calls FROM (
    SELECT 1 AS ord, 'pool' AS step, 'in' AS outcome, source AS reason, count(*) AS n, NULL::DOUBLE AS avg_tool_calls
        FROM pool_items GROUP BY source
    UNION ALL
    SELECT 2, 'filter', 'dropped', 'solved_' || g.gate, count(f.item_id), NULL
        FROM (VALUES ('no_tool'), ('one_image_search'), ('one_text_search')) g(gate)
        LEFT JOIN filter_outcomes f ON f.reason = 'solved_' || g.gate AND f.item_id IN (SELECT item_id FROM pool_items)
        GROUP BY ALL
    UNION ALL
    SELECT 2, 'filter', status, coalesce(reason, 'passed_all_gates'), count(*), NULL
        FROM filter_outcomes WHERE status <> 'dropped' AND item_id IN (SELECT item_id FROM pool_items) GROUP BY ALL
    UNION ALL
    SELECT 2, 'filter', 'pending', '', count(*), NULL FROM pool_items
        WHERE item_id NOT IN (SELECT item_id FROM filter_outcomes WHERE status IN ('kept', 'dropped'))
    UNION ALL
    SELECT 3, 'enhance', 'degraded', kind, count(*), NULL FROM enhancements GROUP BY kind
    UNION ALL
    SELECT 4, 'rl_holdout', 'held_out_for_rl', '', count(DISTINCT item_id), NULL FROM rl_holdout
    UNION ALL
    SELECT 4, 'split', side, rule, count(DISTINCT item_id), NULL FROM item_splits GROUP BY ALL
    UNION ALL
    SELECT 5, 'trajectories', status, coalesce(reject_reason, ''), count(*), round(avg(tool_calls), 2)
        FROM trajectories GROUP BY ALL
    UNION ALL
    SELECT 6, 'items', 'with_accepted_trajectory', '', count(*), NULL FROM synthesis_items WHERE accepted > 0
)
ORDER BY ord, outcome, n DESC, reason
