-- 002: degrees after redirect resolution and sampled paths.
CREATE TABLE IF NOT EXISTS page_degrees (
    wiki       VARCHAR NOT NULL,
    title      VARCHAR NOT NULL,
    in_degree  INTEGER NOT NULL,            -- distinct in-corpus source pages, redirects resolved
    out_degree INTEGER NOT NULL,
    PRIMARY KEY (wiki, title)
);

CREATE TABLE IF NOT EXISTS paths (
    path_id          VARCHAR PRIMARY KEY,   -- hash(wiki, seed, attempt, sampling config)
    run_id           VARCHAR,
    wiki             VARCHAR NOT NULL,
    seed_title       VARCHAR NOT NULL,
    domain           VARCHAR NOT NULL,
    hops             INTEGER NOT NULL,
    nodes            STRUCT(title VARCHAR, role VARCHAR)[] NOT NULL,
    edges            STRUCT(src VARCHAR, dst VARCHAR, anchor_text VARCHAR, sentence VARCHAR,
                            relation VARCHAR, relation_method VARCHAR)[] NOT NULL,
    answer_attribute VARCHAR NOT NULL,
    answer           VARCHAR NOT NULL,
    retries          INTEGER NOT NULL,      -- failed attempts before this one
    sampling_hash    VARCHAR NOT NULL,
    seed             BIGINT NOT NULL,
    created_at       TIMESTAMP
);
