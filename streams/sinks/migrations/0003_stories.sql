-- Stories (docs/stories.md): the latest summary of each story from news.stories, keyed by story
-- id (the id of the story's first article). A summary with an older revision never replaces a
-- newer one (the sink's upsert), so a redelivered or late summary changes nothing.
CREATE TABLE stories (
    story_id        text PRIMARY KEY,
    revision        integer NOT NULL,
    headline        text NOT NULL,
    representative  text NOT NULL,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    article_count   integer NOT NULL,
    languages       text[] NOT NULL,
    outlets         text[] NOT NULL,
    desks           text[] NOT NULL,
    updated_at      timestamptz NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stories_last_seen_idx ON stories (last_seen);

-- Each article names its story and, for a translation, its original. No foreign keys: the
-- article and its story's summary come on two topics and either may be stored first.
ALTER TABLE articles ADD COLUMN IF NOT EXISTS story_id text;
ALTER TABLE articles ADD COLUMN IF NOT EXISTS translation_of text;
CREATE INDEX IF NOT EXISTS articles_story_idx ON articles (story_id);
