-- The publisher's own section of an article (Article.rubric: article:section, JSON-LD
-- articleSection, breadcrumb or URL path segment), kept for editors and downstream queries.
ALTER TABLE articles ADD COLUMN IF NOT EXISTS rubric text;
