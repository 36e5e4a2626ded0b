"""The field types the file formats share, each defined once.

``Url`` (a source or docs address), ``OneLine`` (the one-line ``why`` of a
rule, a policy rule, a class-table entry or an escalation rule), ``VenueName``
(an exchange's folder name) and ``Code`` (an exchange's error code as written).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

#: The venue-name pattern: an exchange's folder name under rules/; a product
#: line's folder is its venue's name, a hyphen and the product (binance-usdm).
VENUE_NAME = r"^[a-z][a-z0-9_]*(?:-[a-z0-9_]+)?$"

Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
OneLine = Annotated[str, StringConstraints(min_length=8, max_length=240, pattern=r"^[^\n]+$")]
VenueName = Annotated[str, StringConstraints(pattern=VENUE_NAME)]
#: A code as an exchange documents or returns it: a number (``51008``,
#: ``-2010``), a documented sub-code (``51008_1000``), a label or enum
#: (``BALANCE_NOT_ENOUGH``) or an error string (``EOrder:Insufficient funds``,
#: ``EService: Throttled: [UNIX timestamp]``). One line, no edge spaces.
MAX_CODE_CHARS = 120
Code = Annotated[str, StringConstraints(pattern=r"^[^\s|](?:[^\n\r|]{0,118}[^\s|])?$")]
