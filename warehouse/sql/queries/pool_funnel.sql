-- The VQA pool funnel: items kept by source, rows dropped by stage and reason (with the matched
-- benchmark for decontamination), and the enhancement subset by degradation kind.
SELECT source, outcome, stage, reason, benchmark, n FROM (
    SELECT source, 'kept' AS outcome, 'pool' AS stage, '' AS reason, '' AS benchmark, count(*) AS n
        FROM pool_items GROUP BY ALL
    UNION ALL
    SELECT source, 'dropped', stage, reason, coalesce(benchmark, ''), count(*)
        FROM pool_rejects GROUP BY ALL
    UNION ALL
    SELECT p.source, 'enhanced', 'enhance', e.kind, '', count(*)
        FROM enhancements e JOIN pool_items p USING (item_id) GROUP BY ALL
)
ORDER BY source, list_position(['kept', 'dropped', 'enhanced'], outcome), n DESC, reason, benchmark
