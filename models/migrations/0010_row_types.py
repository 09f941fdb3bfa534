from tortoise import migrations
from tortoise.migrations import operations as ops

# The row types of rows read inside another's, as an array column (models/rows.py,
# Shape.typed_row; docs/adr/0046-typed-rows.md): asyncpg decodes a typed row with its columns'
# codecs found once for the type, an anonymous ROW(...) by looking up the codec of every value.
# Each type's columns are its row's (models/rows.py) in their order, with the table's types;
# text for every character column, so that a cast never shortens a value.
# tests/models/test_rows.py holds them to the rows and the tables.
CREATE = [
    "CREATE TYPE event_row AS (id bigint, report_id bigint, kind text, message text,"
    " actor_id bigint, visibility text, at timestamptz, assignment_id bigint)",
    "CREATE TYPE follow_up_row AS (id bigint, assignment_id bigint, author_id bigint,"
    " message text, final boolean, resolution text, created_at timestamptz)",
    # An assignment's row, then its follow-ups when they are read with it.
    "CREATE TYPE assignment_row AS (id bigint, report_id bigint, agency_id bigint,"
    " parent_id bigint, status text, tier text, assigned_at timestamptz, due_at timestamptz,"
    " escalation_level integer, return_reason text, suggested_agency_id bigint,"
    " follow_ups follow_up_row[])",
]
DROP = [
    "DROP TYPE IF EXISTS assignment_row",
    "DROP TYPE IF EXISTS follow_up_row",
    "DROP TYPE IF EXISTS event_row",
]


class Migration(migrations.Migration):
    dependencies = [("models", "0009_search_bounds")]

    initial = False

    operations = [ops.RunSQL(CREATE, reverse_sql=DROP)]
