"""The Starlette app: lifespan (ORM, Redis), auth (token -> Actor), /graphql, health."""
