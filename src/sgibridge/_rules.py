"""Where a rule is defined, for messages that cite one.

Every requirement ID that the code, a log line or an error message cites
(``A2W-ERR-01``, ``W2A-SR-11``, ...) is defined in ``docs/behaviour.md``, under a
heading whose anchor is the ID in lower case. A message that cites an ID ends
with :func:`see`, so that a user who meets it in a log can look the rule up::

    raise WSGIProtocolError(f"W2A-SR-03: start_response called twice ({see('W2A-SR-03')})")
"""

from __future__ import annotations

__all__ = ("BEHAVIOUR_DOC", "see")

#: The document that defines every requirement ID, relative to the repository root
#: (and, with ``.md`` dropped, to the docs site).
BEHAVIOUR_DOC = "docs/behaviour.md"


def see(rule_id: str) -> str:
    """Return ``"see docs/behaviour.md#<id>"`` for one requirement ID.

    :param rule_id: an ID as the docs define it, such as ``"A2W-ERR-01"``.
    """
    return f"see {BEHAVIOUR_DOC}#{rule_id.lower()}"
