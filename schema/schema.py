"""The Strawberry schema: roots, the node types, and the protective extensions."""

from __future__ import annotations

import functools
from datetime import datetime

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from core.settings import Settings, get_settings
from schema.assignments import AssignmentMutation, AssignmentQuery
from schema.attachments import UPLOAD, AttachmentMutation, Upload
from schema.calendar import CalendarMutation, CalendarQuery
from schema.common import Node, merged
from schema.compiled.executor import compiling_executor
from schema.deliveries import DeliveryMutation, DeliveryQuery
from schema.documents import ParsedDocuments, ValidatedDocuments
from schema.errors import CodedErrors, code_request_errors, log_unexpected
from schema.hooks import LeanExtensionsRunner
from schema.inputs import InputBounds
from schema.limits import OperationWeights, RequestGuard, guard_operation
from schema.nodes import NodeQuery
from schema.notifications import NotificationMutation, NotificationQuery
from schema.people import PeopleMutation, PeopleQuery
from schema.prepared import PreparedQueries
from schema.reference import ReferenceQuery
from schema.reports import ReportMutation, ReportQuery
from schema.scalars import DATETIME
from schema.subscriptions import Subscription, SubscriptionsOnlyOverWebSocket
from schema.transparency import TransparencyQuery
from schema.webhooks import WebhookMutation

# The roots, merged from each subject's part; a part's fields keep their place in its root.
Query = merged(
    "Query",
    "What can be read: reports, inboxes, reference data, yourself.",
    (
        CalendarQuery,
        DeliveryQuery,
        NodeQuery,
        PeopleQuery,
        ReportQuery,
        AssignmentQuery,
        ReferenceQuery,
        NotificationQuery,
        TransparencyQuery,
    ),
)
Mutation = merged(
    "Mutation",
    "Every change, each one use case; refusals come back in `errors`.",
    (
        CalendarMutation,
        DeliveryMutation,
        PeopleMutation,
        ReportMutation,
        AssignmentMutation,
        AttachmentMutation,
        NotificationMutation,
        WebhookMutation,
    ),
)


class LaporSchema(strawberry.Schema):
    """Strawberry's schema with the lean hook runner, the project's error handling and, when
    operations are compiled, the lane for queries (schema/prepared.py)."""

    prepared: PreparedQueries | None = None

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return LeanExtensionsRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected(errors)
        code_request_errors(errors)


@functools.cache
def limit_rules(max_depth: int, max_aliases: int) -> list[type[ASTValidationRule]]:
    """The depth and alias rules, built once per limit: Strawberry's limiters make new rule
    classes per operation, and a new class in the key would make every validation a miss."""
    return [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]


def build_schema(settings: Settings) -> LaporSchema:
    """The schema with limits from settings; extensions are factories (fresh per operation)."""
    weights = OperationWeights(settings.parser_cache_size, InputBounds.of(settings))

    def parsing() -> ParsedDocuments:
        return ParsedDocuments(
            settings.parser_cache_size,
            settings.max_query_tokens,
            limit_rules(settings.max_query_depth, settings.max_query_aliases),
        )

    def validation() -> ValidatedDocuments:
        return ValidatedDocuments(settings.parser_cache_size)

    built = LaporSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(Node.registry.values()),
        extensions=[
            parsing,
            validation,
            CodedErrors,
            lambda: RequestGuard(settings, weights),
            SubscriptionsOnlyOverWebSocket,
        ],
        config=StrawberryConfig(
            auto_camel_case=True, scalar_map={Upload: UPLOAD, datetime: DATETIME}
        ),
        execution_context_class=compiling_executor(
            settings.compiled_execution, settings.parser_cache_size
        ),
    )
    if settings.compiled_execution:
        guard = functools.partial(guard_operation, settings, weights, built._schema)
        built.prepared = PreparedQueries(
            built, parsing(), validation(), guard, settings.parser_cache_size
        )
    return built


schema = build_schema(get_settings())
