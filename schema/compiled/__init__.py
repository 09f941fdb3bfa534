"""Compiled execution: each operation, once seen, runs from a plan made for its selections
(plan.py), level by level without a task or hook per field (run.py), through the executor
class Strawberry is given (executor.py). docs/adr/0017-compiled-execution.md says why."""
