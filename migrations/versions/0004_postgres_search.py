"""PostgreSQL: the full-text index, its term statistics for BM25, and the catalogue version.

Revision ID: 0004_postgres
Revises: 0003_line_hash
Create Date: 2026-11-30

Nothing changes on SQLite (its index is FTS5, created in 0001); 0001-0003 create the same
tables on both. On PostgreSQL:

- the text search configuration `papers`: the simple parser, diacritics folded
  (unaccent), the original Porter stemmer (snowball `porter`, the algorithm of FTS5's
  `porter` tokenizer) and no stop words, over text whose non-alphanumeric characters
  are spaces -- so a document splits into the same words as FTS5's unicode61 splits
  it, and a query's words are found at the same positions (phrases);
- `papers.tsv`, a stored generated tsvector (title weight A, abstract D, authors B)
  with a GIN index, and `papers.doc_len`, the number of words of the three columns;
- `search_terms` (lexeme -> number of papers containing it, and its occurrences in them;
  C collation, so a prefix is a range of its primary key) and `search_stats` (papers,
  words): the statistics BM25, spelling and related papers need, kept by row triggers, or for a bulk load by the
  engine in the load's own transaction (the triggers stand aside while
  `papers.bulk_index` is on for that transaction);
- `catalogue_version`, bumped once by every transaction that writes papers, authors,
  tags or aliases, in that transaction: app servers (on any machine, reading a
  replica) rebuild their in-memory catalogue when it moves.
"""
from alembic import op

revision = "0004_postgres"
down_revision = "0003_line_hash"
branch_labels = None
depends_on = None

CATALOGUE_TABLES = ("papers", "authors", "paper_authors", "tags", "paper_tags", "aliases")

UPGRADE = [
    # unaccent folds diacritics first (FTS5's remove_diacritics): Núñez is found as nunez.
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH DICTIONARY papers_porter (TEMPLATE = snowball, Language = porter)",
    "CREATE TEXT SEARCH CONFIGURATION papers (COPY = simple)",
    """ALTER TEXT SEARCH CONFIGURATION papers ALTER MAPPING FOR asciiword, word, numword,
           asciihword, hword, numhword, hword_asciipart, hword_part, hword_numpart WITH unaccent, papers_porter""",
    # [[:alnum:]] follows the database's character type: a UTF-8 one knows every script.
    """CREATE FUNCTION papers_words(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
           RETURN regexp_replace(t, '[^[:alnum:]]+', ' ', 'g')""",
    """CREATE FUNCTION papers_tsv(title text, abstract text, authors text) RETURNS tsvector
           LANGUAGE sql IMMUTABLE PARALLEL SAFE
           RETURN setweight(to_tsvector('papers', papers_words(title)), 'A')
               || setweight(to_tsvector('papers', papers_words(abstract)), 'D')
               || setweight(to_tsvector('papers', papers_words(authors)), 'B')""",
    # Words of a paper, as BM25 counts a document's length.
    """CREATE FUNCTION papers_doc_len(title text, abstract text, authors text) RETURNS integer
           LANGUAGE sql IMMUTABLE PARALLEL SAFE
           RETURN regexp_count(title || ' ' || abstract || ' ' || authors, '[[:alnum:]]+')""",
    """ALTER TABLE papers
           ADD COLUMN tsv tsvector GENERATED ALWAYS AS (papers_tsv(title, abstract, authors)) STORED,
           ADD COLUMN doc_len integer GENERATED ALWAYS AS (papers_doc_len(title, abstract, authors)) STORED""",
    "CREATE INDEX ix_papers_tsv ON papers USING gin (tsv)",
    """CREATE TABLE search_terms (lexeme text COLLATE "C" PRIMARY KEY, docs integer NOT NULL,
           occurrences bigint NOT NULL)""",
    """CREATE TABLE search_stats (id smallint PRIMARY KEY CHECK (id = 1),
           docs bigint NOT NULL, words bigint NOT NULL)""",
    """INSERT INTO search_stats (id, docs, words)
           SELECT 1, count(*), coalesce(sum(doc_len), 0) FROM papers""",
    """INSERT INTO search_terms (lexeme, docs, occurrences)
           SELECT word, ndoc, nentry FROM ts_stat('SELECT tsv FROM papers')""",
    # Add (sign 1) or remove (sign -1) papers' terms and words to or from the statistics.
    """CREATE FUNCTION search_count(vectors tsvector[], lengths integer[], sign integer) RETURNS void
           LANGUAGE sql AS $$
           INSERT INTO search_terms AS t (lexeme, docs, occurrences)
               SELECT u.lexeme, sign * count(*), sign * sum(coalesce(cardinality(u.positions), 1))
               FROM unnest(vectors) v, unnest(v) u
               GROUP BY u.lexeme
           ON CONFLICT (lexeme) DO UPDATE SET docs = t.docs + excluded.docs,
               occurrences = t.occurrences + excluded.occurrences;
           UPDATE search_stats SET docs = docs + sign * cardinality(vectors),
               words = words + sign * (SELECT coalesce(sum(n), 0) FROM unnest(lengths) n) WHERE id = 1;
           $$""",
    """CREATE FUNCTION search_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF current_setting('papers.bulk_index', true) = 'on' THEN
                   RETURN NULL;  -- a bulk load counts its papers itself (engine.index)
               END IF;
               IF TG_OP IN ('UPDATE', 'DELETE') THEN
                   PERFORM search_count(ARRAY[OLD.tsv], ARRAY[OLD.doc_len], -1);
               END IF;
               IF TG_OP IN ('UPDATE', 'INSERT') THEN
                   PERFORM search_count(ARRAY[NEW.tsv], ARRAY[NEW.doc_len], 1);
               END IF;
               RETURN NULL;
           END $$""",
    """CREATE TRIGGER search_terms_ai AFTER INSERT ON papers
           FOR EACH ROW EXECUTE FUNCTION search_terms_sync()""",
    """CREATE TRIGGER search_terms_au AFTER UPDATE OF title, abstract, authors ON papers
           FOR EACH ROW EXECUTE FUNCTION search_terms_sync()""",
    """CREATE TRIGGER search_terms_ad AFTER DELETE ON papers
           FOR EACH ROW EXECUTE FUNCTION search_terms_sync()""",
    """CREATE TABLE catalogue_version (id smallint PRIMARY KEY CHECK (id = 1), version bigint NOT NULL)""",
    "INSERT INTO catalogue_version (id, version) VALUES (1, 1)",
    # Once per transaction: a batch writes thousands of statements, and updating one row
    # again and again in one transaction makes each update walk the versions before it.
    """CREATE FUNCTION catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF current_setting('papers.catalogue_changed', true) IS DISTINCT FROM 'on' THEN
                   UPDATE catalogue_version SET version = version + 1 WHERE id = 1;
                   PERFORM set_config('papers.catalogue_changed', 'on', true);
               END IF;
               RETURN NULL;
           END $$""",
    *(f"""CREATE TRIGGER {table}_catalogue_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
              FOR EACH STATEMENT EXECUTE FUNCTION catalogue_changed()""" for table in CATALOGUE_TABLES),
]

DOWNGRADE = [
    *(f"DROP TRIGGER IF EXISTS {table}_catalogue_changed ON {table}" for table in CATALOGUE_TABLES),
    "DROP FUNCTION IF EXISTS catalogue_changed()",
    "DROP TABLE IF EXISTS catalogue_version",
    *(f"DROP TRIGGER IF EXISTS search_terms_{suffix} ON papers" for suffix in ("ai", "au", "ad")),
    "DROP FUNCTION IF EXISTS search_terms_sync()",
    "DROP FUNCTION IF EXISTS search_count(tsvector[], integer[], integer)",
    "DROP TABLE IF EXISTS search_stats",
    "DROP TABLE IF EXISTS search_terms",
    "DROP INDEX IF EXISTS ix_papers_tsv",
    "ALTER TABLE papers DROP COLUMN IF EXISTS tsv, DROP COLUMN IF EXISTS doc_len",
    "DROP FUNCTION IF EXISTS papers_tsv(text, text, text)",
    "DROP FUNCTION IF EXISTS papers_doc_len(text, text, text)",
    "DROP FUNCTION IF EXISTS papers_words(text)",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS papers",
    "DROP TEXT SEARCH DICTIONARY IF EXISTS papers_porter",
    "DROP EXTENSION IF EXISTS unaccent",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in DOWNGRADE:
        op.execute(statement)
