from tortoise import migrations
from tortoise.migrations import operations as ops

# Search over reports (issue 15, docs/adr/0028): PostgreSQL's full-text search with its
# Snowball `indonesian` configuration (it strips the affixes: jalanan -> jalan, kerusakan ->
# rusak), and pg_trgm for typos and partial words. The indexes are on expressions, not on
# stored columns, so the models and every write stay as they were; domain/services/search.py
# writes the same expressions (a test holds them to these) so the planner can use them.
# pg_trgm is a trusted extension: the database's owner may create it without a superuser.
CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    CREATE INDEX IF NOT EXISTS report_search_vector ON report USING gin (
        (setweight(to_tsvector('indonesian'::regconfig, title), 'A')
         || setweight(to_tsvector('indonesian'::regconfig, body), 'B'))
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS report_search_trigrams ON report
    USING gin ((title || ' ' || body) gin_trgm_ops)
    """,
]
# The extension stays: other objects may have come to use it.
DROP = [
    "DROP INDEX IF EXISTS report_search_trigrams",
    "DROP INDEX IF EXISTS report_search_vector",
]


class Migration(migrations.Migration):
    dependencies = [("models", "0006_transparency")]

    initial = False

    operations = [ops.RunSQL(CREATE, reverse_sql=DROP)]
