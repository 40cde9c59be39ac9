-- 005: the teacher client (issue 6 §1) shares the llm_calls memo with the question stage: which purpose
-- a call served (teacher | judge | solver:<gate> | ...), its spend, how many requests it took, its finish
-- reason, the error's reason on its own for the funnel, and the run that sent it.
ALTER TABLE llm_calls ADD COLUMN IF NOT EXISTS purpose VARCHAR;
ALTER TABLE llm_calls ADD COLUMN IF NOT EXISTS finish_reason VARCHAR;
ALTER TABLE llm_calls ADD COLUMN IF NOT EXISTS error_reason VARCHAR;   -- http_<status> | timeout | connection
ALTER TABLE llm_calls ADD COLUMN IF NOT EXISTS cost_usd DOUBLE;        -- spend when sent; memo hits cost nothing
ALTER TABLE llm_calls ADD COLUMN IF NOT EXISTS attempts INTEGER;       -- requests sent, retries included
ALTER TABLE llm_calls ADD COLUMN IF NOT EXISTS run_id VARCHAR;
