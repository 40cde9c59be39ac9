-- 004: tool-call memo shared by everything that drives the tool environment (teacher synthesis,
-- `searchvl tool`): successful results by request hash, reused across runs, so re-running a stage
-- redoes no identical search or OCR. Errors are never stored (a failed call is retried next time).
CREATE TABLE IF NOT EXISTS tool_calls (
    request_hash     VARCHAR PRIMARY KEY,     -- toolenv.cache.request_key: tool, args, image sha256s, backend
    tool             VARCHAR,                 -- tool name when the caller knows it
    response         VARCHAR NOT NULL,        -- observation text the tool returned
    images           BLOB[] NOT NULL,         -- PNG bytes of the images the result attached, in order
    dropped_by_guard INTEGER NOT NULL,        -- results the leakage guard dropped
    latency_ms       DOUBLE NOT NULL,         -- of the call that produced the entry
    hits             BIGINT NOT NULL DEFAULT 0,
    created_at       TIMESTAMP NOT NULL,
    last_used_at     TIMESTAMP                -- last cache hit
);
