"""``python -m prow.cli``: the same as the ``prow`` console script."""

from prow.cli import main

main(prog_name="prow")
