# Clients' idempotency keys, kept with what their change produced (docs/adr/0025).
from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_outbox_pending')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scope', fields.BigIntField()),
                ('key', fields.CharField(max_length=255)),
                ('operation', fields.CharField(max_length=64)),
                ('fingerprint', fields.CharField(max_length=64)),
                ('outcome', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'idempotency_key', 'app': 'models', 'unique_together': (('scope', 'key'),), 'indexes': [Index(fields=['expires_at'])], 'pk_attr': 'id', 'table_description': "A change made under a client's idempotency key: what was asked (a keyed hash of the"},
            bases=['Model'],
        ),
    ]
