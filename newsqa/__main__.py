"""`python -m newsqa` is the `newsqa` command."""

from newsqa.cli import app

app()
