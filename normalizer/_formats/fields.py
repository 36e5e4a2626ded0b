"""The field types the file formats share, each defined once.

``Url`` (a source or docs address), ``OneLine`` (the one-line ``why`` of a
rule, a policy rule, a class-table entry or an escalation rule), ``VenueName``
(an exchange's folder name) and ``Code`` (an exchange's error code as written).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

#: The venue-name pattern: an exchange's folder name under rules/.
VENUE_NAME = r"^[a-z][a-z0-9_]*$"

Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
OneLine = Annotated[str, StringConstraints(min_length=8, max_length=240, pattern=r"^[^\n]+$")]
VenueName = Annotated[str, StringConstraints(pattern=VENUE_NAME)]
Code = Annotated[str, StringConstraints(pattern=r"^-?[0-9A-Za-z_.]{1,32}$")]
