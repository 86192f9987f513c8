-- Databases written before migrations existed (the sink created its tables ad hoc) keep their
-- rows under a *_pre_migrations name instead of blocking this migration; nothing is dropped.
ALTER TABLE IF EXISTS articles RENAME TO articles_pre_migrations;
ALTER TABLE IF EXISTS duplicates RENAME TO duplicates_pre_migrations;
ALTER INDEX IF EXISTS articles_published_idx RENAME TO articles_pre_migrations_published_idx;
ALTER INDEX IF EXISTS articles_topics_idx RENAME TO articles_pre_migrations_topics_idx;

-- Articles keyed by article id (hash of the canonical URL): one row per URL, its latest revision.
CREATE TABLE articles (
    article_id          text PRIMARY KEY,
    -- Revision number from dedup (0 = first version of the URL) and how many versions this row
    -- has held: a replay changes neither, a revision bumps both.
    revision            integer NOT NULL,
    revision_count      integer NOT NULL DEFAULT 1,
    url                 text NOT NULL,
    canonical_url       text NOT NULL,
    source_id           text NOT NULL,
    title               text NOT NULL,
    body                text NOT NULL,
    author              text,
    published           timestamptz,
    language            text,
    -- Text search configuration chosen from the language (streams.sinks.rows.text_config):
    -- PostgreSQL ships english and russian stemmers but none for Ukrainian, which gets simple.
    ts_config           regconfig NOT NULL,
    topics              text[] NOT NULL,
    iptc                text[] NOT NULL,
    scores              jsonb NOT NULL,
    classifier_version  text NOT NULL,
    content_hash        text NOT NULL,
    extractor           text NOT NULL,
    fetched_at          timestamptz NOT NULL,
    classified_at       timestamptz NOT NULL,
    raw_origin          jsonb,
    first_stored_at     timestamptz NOT NULL DEFAULT now(),
    stored_at           timestamptz NOT NULL DEFAULT now(),
    -- Only the first 100k characters of the body are indexed: a tsvector is capped at 1 MB,
    -- and a huge page of distinct words would otherwise make PostgreSQL refuse the whole row.
    search              tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector(ts_config, left(title, 2000)), 'A')
        || setweight(to_tsvector(ts_config, left(body, 100000)), 'B')
    ) STORED
);
CREATE INDEX articles_published_idx ON articles (published);
CREATE INDEX articles_fetched_idx ON articles (fetched_at);
CREATE INDEX articles_source_idx ON articles (source_id, published);
CREATE INDEX articles_topics_idx ON articles USING gin (topics);
CREATE INDEX articles_iptc_idx ON articles USING gin (iptc);
CREATE INDEX articles_search_idx ON articles USING gin (search);

-- A duplicate points at the article it copies; the original may arrive later or never be
-- stored (it can be older than the retention), so no foreign key.
CREATE TABLE duplicates (
    article_id    text NOT NULL,
    duplicate_of  text NOT NULL,
    reason        text NOT NULL,
    similarity    real NOT NULL,
    url           text NOT NULL,
    source_id     text NOT NULL,
    fetched_at    timestamptz NOT NULL,
    detected_at   timestamptz NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, duplicate_of, fetched_at)
);
CREATE INDEX duplicates_original_idx ON duplicates (duplicate_of);
