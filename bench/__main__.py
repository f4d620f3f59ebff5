"""`python -m bench`: the benchmark harness (bench/run.py), same options as `newsqa bench`."""

import typer

from bench.cli import bench

typer.run(bench)
