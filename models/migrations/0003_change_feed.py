from tortoise import migrations
from tortoise.migrations import operations as ops

# Every committed change to the tables that processes cache (people and their roles, reference
# data) is announced on the `lapor_changes` channel as "<table>:<key>" (the user id for people
# and role grants, empty for reference data), so that every API and worker process drops what
# it holds at once (models/changes.py, docs/adr/0015-caches-and-the-change-feed.md).
FUNCTION = """
CREATE OR REPLACE FUNCTION lapor_announce_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('lapor_changes', TG_TABLE_NAME || ':');
    ELSIF TG_TABLE_NAME = 'app_user' THEN
        PERFORM pg_notify('lapor_changes', 'app_user:' || OLD.id);
    ELSE
        IF TG_OP <> 'INSERT' THEN
            PERFORM pg_notify('lapor_changes', TG_TABLE_NAME || ':' || OLD.user_id);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            PERFORM pg_notify('lapor_changes', TG_TABLE_NAME || ':' || NEW.user_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
"""

PEOPLE = {
    # A new user is in no cache; an update or a removal may be.
    "app_user": "AFTER UPDATE OR DELETE",
    "role_grant": "AFTER INSERT OR UPDATE OR DELETE",
}
REFERENCE = ("region", "agency", "category", "holiday", "routing_rule")


def _create() -> list[str]:
    statements = [FUNCTION]
    for table, events in PEOPLE.items():
        statements.append(
            f"CREATE TRIGGER lapor_announce_change {events} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION lapor_announce_change()"
        )
    for table in REFERENCE:
        statements.append(
            f"CREATE TRIGGER lapor_announce_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION lapor_announce_change()"
        )
    return statements


def _drop() -> list[str]:
    statements = [
        f"DROP TRIGGER IF EXISTS lapor_announce_change ON {table}"
        for table in (*PEOPLE, *REFERENCE)
    ]
    return [*statements, "DROP FUNCTION IF EXISTS lapor_announce_change()"]


class Migration(migrations.Migration):
    dependencies = [("models", "0002_notifications_and_sweep")]

    initial = False

    operations = [ops.RunSQL(_create(), reverse_sql=_drop())]
