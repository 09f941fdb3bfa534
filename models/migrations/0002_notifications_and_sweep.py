from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import DeliveryStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SweepMark',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('target', fields.CharField(max_length=32)),
                ('stage', fields.CharField(max_length=24)),
                ('level', fields.CharField(max_length=16)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('report', fields.ForeignKeyField('models.Report', source_field='report_id', db_constraint=True, to_field='id', related_name='sweep_marks', on_delete=OnDelete.CASCADE)),
                ('acted', fields.BooleanField(default=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sweep_mark', 'app': 'models', 'unique_together': (('target', 'stage', 'level', 'due_at'),), 'pk_attr': 'id', 'table_description': 'That the deadline sweep took one step (reminder, breach, ...) on one deadline of one row,'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Assignment',
            name='sweep_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Assignment',
            index=Index(fields=['sweep_at', 'id']),
        ),
        ops.AlterModelOptions(
            name='Notification',
            options={'table': 'notification', 'app': 'models', 'unique_together': (('event', 'user', 'channel'), ('event', 'agency', 'channel')), 'indexes': [Index(fields=['user_id', 'id']), Index(fields=['user_id', 'read_at', 'id']), Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': 'One notification of one event to one recipient (a user, or an agency for webhooks) over'},
        ),
        ops.AlterField(
            model_name='Notification',
            name='user',
            field=fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='Notification',
            name='agency',
            field=fields.ForeignKeyField('models.Agency', source_field='agency_id', null=True, db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='Notification',
            name='attempts',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Notification',
            name='delivered_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Notification',
            name='last_attempt_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Notification',
            name='last_error',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Notification',
            name='next_attempt_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Notification',
            name='round',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Notification',
            name='status',
            field=fields.CharEnumField(default=DeliveryStatus.SENT, description='PENDING: PENDING\nSENT: SENT\nDEAD: DEAD', enum_type=DeliveryStatus, max_length=16),
        ),
        ops.AddIndex(
            model_name='Notification',
            index=Index(fields=['status', 'next_attempt_at']),
        ),
        ops.AddConstraint(
            model_name='Notification',
            constraint=UniqueConstraint(fields=('event', 'agency', 'channel'), name=None),
        ),
        ops.AddField(
            model_name='Report',
            name='sweep_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Report',
            index=Index(fields=['sweep_at', 'id']),
        ),
        ops.AddField(
            model_name='User',
            name='locale',
            field=fields.CharField(default='id', max_length=8),
        ),
    ]
