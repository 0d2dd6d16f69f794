"""``python -m sgibridge``: the same command line as ``sgibridge`` (see :mod:`._cli`)."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
