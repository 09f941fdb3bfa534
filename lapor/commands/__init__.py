"""The `lapor` subcommands, by group: the data (migrate, seed, users), the service (run, api,
worker, sweep) and what clients are given (the schema, persisted queries, the console)."""


class CliError(Exception):
    """A refusal to print as `error: message` with exit status 2, without a traceback."""
