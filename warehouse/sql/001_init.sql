-- 001: runs, sources, pages and what hangs off them, rejects, stage stats.
CREATE TABLE IF NOT EXISTS runs (
    run_id        VARCHAR PRIMARY KEY,
    flow          VARCHAR NOT NULL,
    config_name   VARCHAR,
    config_hash   VARCHAR,
    config_json   JSON,
    code_version  VARCHAR,
    prompt_hashes JSON,
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    status        VARCHAR NOT NULL,          -- running | completed | failed
    error         VARCHAR
);

CREATE TABLE IF NOT EXISTS sources (
    source_id       VARCHAR PRIMARY KEY,     -- kind:sha256 of the file (or of the title list)
    kind            VARCHAR NOT NULL,        -- xml | zim | live
    uri             VARCHAR NOT NULL,
    wiki            VARCHAR,
    dump_date       VARCHAR,
    status          VARCHAR NOT NULL,        -- running | completed | failed
    pages_committed INTEGER NOT NULL DEFAULT 0,
    rejects         INTEGER NOT NULL DEFAULT 0,
    last_page       VARCHAR,
    error           VARCHAR,
    run_id          VARCHAR,
    updated_at      TIMESTAMP
);

CREATE TABLE IF NOT EXISTS pages (
    wiki               VARCHAR NOT NULL,
    title              VARCHAR NOT NULL,
    namespace          INTEGER NOT NULL,
    page_id            BIGINT,
    revision_id        BIGINT,
    revision_timestamp VARCHAR,
    redirect_target    VARCHAR,
    is_disambiguation  BOOLEAN NOT NULL,
    lead_text          VARCHAR,
    infobox_type       VARCHAR,
    infobox            MAP(VARCHAR, VARCHAR),
    source_id          VARCHAR,
    PRIMARY KEY (wiki, title)
);

CREATE TABLE IF NOT EXISTS links (
    wiki        VARCHAR NOT NULL,
    src_title   VARCHAR NOT NULL,
    ordinal     INTEGER NOT NULL,
    target      VARCHAR NOT NULL,            -- normalised surface title, before redirect resolution
    anchor_text VARCHAR,
    sentence    VARCHAR,
    infobox_key VARCHAR,
    PRIMARY KEY (wiki, src_title, ordinal)
);

CREATE TABLE IF NOT EXISTS aliases (
    wiki  VARCHAR NOT NULL,
    title VARCHAR NOT NULL,
    alias VARCHAR NOT NULL,
    kind  VARCHAR NOT NULL,                  -- bold_lead | infobox_name (redirects are a view)
    PRIMARY KEY (wiki, title, alias, kind)
);

CREATE TABLE IF NOT EXISTS image_refs (
    wiki      VARCHAR NOT NULL,
    title     VARCHAR NOT NULL,
    ordinal   INTEGER NOT NULL,              -- 0 = infobox image when the page has one
    file_name VARCHAR NOT NULL,
    role      VARCHAR NOT NULL,              -- infobox | body
    caption   VARCHAR,
    PRIMARY KEY (wiki, title, ordinal)
);

CREATE TABLE IF NOT EXISTS image_blobs (
    sha256     VARCHAR PRIMARY KEY,
    format     VARCHAR NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    size_bytes BIGINT NOT NULL,
    path       VARCHAR NOT NULL               -- relative to the data dir: images/ab/abcd….png
);

CREATE TABLE IF NOT EXISTS image_files (
    wiki        VARCHAR NOT NULL,
    file_name   VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    license     VARCHAR,
    license_url VARCHAR,
    author      VARCHAR,
    source_url  VARCHAR,
    description VARCHAR,
    PRIMARY KEY (wiki, file_name)
);

-- The stage writers' drops; read them through the `rejects` view (014), which adds the verdict tables' drops.
-- (Warehouses made before 014 had this table under the name `rejects`; migrate renames it.)
CREATE TABLE IF NOT EXISTS unit_rejects (
    stage      VARCHAR NOT NULL,             -- ingest | sample_paths | …
    unit_id    VARCHAR NOT NULL,             -- what was dropped (deterministic, so reruns upsert)
    reason     VARCHAR NOT NULL,
    detail     VARCHAR,
    run_id     VARCHAR,
    created_at TIMESTAMP,
    PRIMARY KEY (stage, unit_id)
);

CREATE TABLE IF NOT EXISTS stage_stats (
    run_id  VARCHAR NOT NULL,
    stage   VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,                -- kept | dropped | failed
    reason  VARCHAR NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (run_id, stage, outcome, reason)
);

-- Redirects as aliases, resolved degrees: derived, so never stale.
CREATE OR REPLACE VIEW redirect_aliases AS
    SELECT wiki, redirect_target AS title, title AS alias, 'redirect' AS kind
    FROM pages WHERE redirect_target IS NOT NULL AND namespace = 0;

CREATE OR REPLACE VIEW all_aliases AS
    SELECT wiki, title, title AS alias, 'title' AS kind FROM pages
        WHERE redirect_target IS NULL AND namespace = 0
    UNION ALL SELECT wiki, title, alias, kind FROM redirect_aliases
    UNION ALL SELECT wiki, title, alias, kind FROM aliases;

CREATE OR REPLACE VIEW resolved_links AS
    SELECT l.wiki, l.src_title, l.ordinal, l.target AS surface_target,
           coalesce(p.redirect_target, l.target) AS dst_title,
           l.anchor_text, l.sentence, l.infobox_key
    FROM links l
    LEFT JOIN pages p ON p.wiki = l.wiki AND p.title = l.target AND p.redirect_target IS NOT NULL;
