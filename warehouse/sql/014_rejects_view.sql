-- 014: one `rejects` for every dropped unit, and what a rerun may skip.
-- The stage writers' own table (ingest, sample_paths, questions, export, …) becomes `unit_rejects`; `rejects` is a
-- view over it plus the stages that keep their drops in their verdict tables (the pool's merge and
-- decontamination drops, the shortcut filter's drops and failures, rejected or surplus trajectories), so
-- `SELECT … FROM rejects` and `searchvl inspect rejects` list the same units. (A warehouse from before 014 has
-- the table under the name `rejects`: `warehouse.db.migrate` renames it first, which plain SQL cannot do
-- re-runnably.)

CREATE OR REPLACE VIEW rejects AS
    SELECT stage, unit_id, reason, detail, run_id, created_at FROM unit_rejects
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
        FROM trajectories WHERE status <> 'accepted';

-- A file source is skipped on a rerun when its content fingerprint (the source id) and this key (the ingest
-- settings that shape its rows, and the media folder's listing) match a completed ingest.
ALTER TABLE sources ADD COLUMN IF NOT EXISTS ingest_key VARCHAR;
