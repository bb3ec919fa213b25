"""PostgreSQL: the term statistics count a statement's papers at once, not row by row.

Revision ID: 0005_postgres_counts
Revises: 0004_postgres
Create Date: 2026-11-30

Nothing changes on SQLite. 0004's row triggers counted each deleted or changed paper's
terms in a statement of their own: deleting or replacing 3,000 papers in one
transaction updated the common terms' rows of `search_terms` (and the one row of
`search_stats`) 3,000 times each, and every update of a row already updated in the
transaction walks the versions before it -- about four minutes for the deletion. These
statement triggers read the statement's rows from its transition tables and count them
in one `search_count` call: each statistics row is updated once per statement. An
UPDATE counts only the papers whose indexed text changed (a trigger with transition
tables cannot name columns). As before, nothing is counted while `papers.bulk_index`
is on: the writer counts its papers itself (app/engine/postgres.py).

0004's row function `search_terms_sync` stays, for the downgrade.
"""
from alembic import op

revision = "0005_postgres_counts"
down_revision = "0004_postgres"
branch_labels = None
depends_on = None

ROW_TRIGGERS = ("search_terms_ai", "search_terms_au", "search_terms_ad")

# The papers a statement added (sign 1) or removed (-1); none: no call, which would make
# the totals NULL (array_agg over no rows is NULL).
_COUNT = """PERFORM search_count(array_agg({alias}.tsv), array_agg({alias}.doc_len), {sign})
                   FROM {source} HAVING count(*) > 0;"""
_CHANGED = "old_rows o JOIN new_rows n ON n.id = o.id WHERE o.tsv IS DISTINCT FROM n.tsv"

FUNCTIONS = {
    "search_terms_inserted": _COUNT.format(alias="n", source="new_rows n", sign=1),
    "search_terms_deleted": _COUNT.format(alias="o", source="old_rows o", sign=-1),
    "search_terms_updated": (_COUNT.format(alias="o", source=_CHANGED, sign=-1) + "\n               "
                             + _COUNT.format(alias="n", source=_CHANGED, sign=1)),
}
TRIGGERS = {
    "search_terms_inserted": "AFTER INSERT ON papers REFERENCING NEW TABLE AS new_rows",
    "search_terms_deleted": "AFTER DELETE ON papers REFERENCING OLD TABLE AS old_rows",
    "search_terms_updated": "AFTER UPDATE ON papers REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
}

UPGRADE = [
    *(f"DROP TRIGGER IF EXISTS {name} ON papers" for name in ROW_TRIGGERS),
    *(f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF current_setting('papers.bulk_index', true) = 'on' THEN
                   RETURN NULL;  -- a bulk write counts its papers itself (engine.index/unindex)
               END IF;
               {body}
               RETURN NULL;
           END $$""" for name, body in FUNCTIONS.items()),
    *(f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
      for name, when in TRIGGERS.items()),
]

DOWNGRADE = [
    *(f"DROP TRIGGER IF EXISTS {name} ON papers" for name in TRIGGERS),
    *(f"DROP FUNCTION IF EXISTS {name}()" for name in FUNCTIONS),
    """CREATE TRIGGER search_terms_ai AFTER INSERT ON papers
           FOR EACH ROW EXECUTE FUNCTION search_terms_sync()""",
    """CREATE TRIGGER search_terms_au AFTER UPDATE OF title, abstract, authors ON papers
           FOR EACH ROW EXECUTE FUNCTION search_terms_sync()""",
    """CREATE TRIGGER search_terms_ad AFTER DELETE ON papers
           FOR EACH ROW EXECUTE FUNCTION search_terms_sync()""",
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
