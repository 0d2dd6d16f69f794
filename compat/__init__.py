"""``make compat``: the frameworks' own test suites through sgibridge.

See docs/compat.md for what it runs and what it found.
"""
