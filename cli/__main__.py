"""`python -m pgxlit.cli …` runs the command line, as the `pgxlit` script does."""

from pgxlit.cli.main import app

app()
