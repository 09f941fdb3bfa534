# Photos and documents on reports (issue 14, docs/adr/0029): the rows; the bytes are in the file store.
from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import AttachmentSource
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_search')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Attachment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('report', fields.ForeignKeyField('models.Report', source_field='report_id', db_constraint=True, to_field='id', related_name='attachments', on_delete=OnDelete.CASCADE)),
                ('follow_up', fields.ForeignKeyField('models.FollowUp', source_field='follow_up_id', null=True, db_constraint=True, to_field='id', related_name='attachments', on_delete=OnDelete.CASCADE)),
                ('uploader', fields.ForeignKeyField('models.User', source_field='uploader_id', null=True, db_constraint=True, to_field='id', related_name='attachments', on_delete=OnDelete.SET_NULL)),
                ('source', fields.CharEnumField(description='REPORTER: REPORTER\nAGENCY: AGENCY', enum_type=AttachmentSource, max_length=16)),
                ('blob_key', fields.CharField(max_length=64)),
                ('content_type', fields.CharField(max_length=64)),
                ('byte_size', fields.IntField()),
                ('width', fields.IntField(null=True)),
                ('height', fields.IntField(null=True)),
                ('thumbnail_key', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('hidden_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('hidden_reason', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'attachment', 'app': 'models', 'indexes': [Index(fields=['report_id', 'id']), Index(fields=['follow_up_id']), Index(fields=['blob_key']), Index(fields=['thumbnail_key'])], 'pk_attr': 'id', 'table_description': 'A photo or document on a report, as stored after cleaning (no metadata): the bytes live'},
            bases=['Model'],
        ),
    ]
