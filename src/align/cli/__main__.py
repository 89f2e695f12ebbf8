"""python -m align.cli: the `align` command."""

from . import main

main()
