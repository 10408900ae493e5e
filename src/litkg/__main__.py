"""`python -m litkg` runs the command line."""

from litkg.cli import app

app(prog_name="litkg")
