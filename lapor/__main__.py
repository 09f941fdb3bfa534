"""`python -m lapor`: the same as the `lapor` console script."""

from lapor.cli import main

main()
