from tortoise import migrations
from tortoise.migrations import operations as ops

# The transparency figures (issue 16, docs/adr/0027): counts per (scope, id, month, measure,
# value), what each report contributed to them (so a change is applied as a difference), and
# the reports whose history changed since (a trigger marks them as each event is written, in
# the event's own transaction: no writer can forget, and a rollback marks nothing).
CREATE = [
    """
    CREATE TABLE perf_cell (
        scope VARCHAR(8) NOT NULL,
        scope_id BIGINT NOT NULL,
        month DATE NOT NULL,
        measure VARCHAR(32) NOT NULL,
        value INT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (scope, month, scope_id, measure, value)
    )
    """,
    """
    CREATE TABLE perf_source (
        report_id BIGINT PRIMARY KEY,
        cells JSONB NOT NULL DEFAULT '[]'::jsonb,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    "CREATE TABLE perf_dirty (id BIGSERIAL PRIMARY KEY, report_id BIGINT NOT NULL)",
    """
    CREATE OR REPLACE FUNCTION perf_mark_dirty() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO perf_dirty (report_id) VALUES (NEW.report_id);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER report_event_perf_dirty AFTER INSERT ON report_event
    FOR EACH ROW EXECUTE FUNCTION perf_mark_dirty()
    """,
    # Reports that came before this migration: their figures start from a rebuild.
    "INSERT INTO perf_dirty (report_id) SELECT id FROM report ORDER BY id",
]
DROP = [
    "DROP TRIGGER IF EXISTS report_event_perf_dirty ON report_event",
    "DROP FUNCTION IF EXISTS perf_mark_dirty()",
    "DROP TABLE IF EXISTS perf_dirty",
    "DROP TABLE IF EXISTS perf_source",
    "DROP TABLE IF EXISTS perf_cell",
]


class Migration(migrations.Migration):
    dependencies = [("models", "0005_idempotency_keys")]

    initial = False

    operations = [ops.RunSQL(CREATE, reverse_sql=DROP)]
