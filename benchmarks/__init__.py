"""sgibridge benchmarks: in-process and real-server comparisons against peer adapters.

Run ``python -m benchmarks.run --quick`` (or ``--full``); see ``benchmarks/README.md``.
This package is not shipped and not imported by the library or its tests.
"""
