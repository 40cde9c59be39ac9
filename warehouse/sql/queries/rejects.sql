-- Every dropped unit with its reason, across stages (the `rejects` view: the stage writers' `unit_rejects`, the
-- pool's merge/decontamination drops, the shortcut filter's drops and failures, rejected or surplus
-- trajectories). Parameter $stage: a stage name to keep, or NULL/'' for all.
SELECT stage, unit_id, reason, detail, run_id, created_at FROM rejects
WHERE coalesce($stage, '') = '' OR stage = $stage
ORDER BY stage, reason, unit_id
