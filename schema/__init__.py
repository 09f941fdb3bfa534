"""Strawberry only: types, queries, mutations, loaders; the schema.graphql snapshot beside them."""
