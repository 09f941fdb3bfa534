from tortoise import migrations
from tortoise.migrations import operations as ops

# Similar reports are looked for among the newest reports of one region that share a word
# (domain/services/search.py SIMILAR_WINDOW, docs/adr/0028): with the region's reports in id
# order, PostgreSQL walks back from the newest of that region and stops at the window, where
# the primary key would step over every other region's reports (the country has some 500
# regions) and the (region, status, id) index has no single id order.
CREATE = "CREATE INDEX IF NOT EXISTS report_region_newest ON report (region_id, id)"
DROP = "DROP INDEX IF EXISTS report_region_newest"


class Migration(migrations.Migration):
    dependencies = [("models", "0008_attachments")]

    initial = False

    operations = [ops.RunSQL([CREATE], reverse_sql=[DROP])]
