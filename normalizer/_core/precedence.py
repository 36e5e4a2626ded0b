"""The precedence of rules: which of two rules that both match an input wins.

1. a higher ``priority`` wins (default 0; for deliberate overrides);
2. then the kinds of condition the rule has, weighted as bits (``WEIGHTS``):
   exact code 64, message 32, code range 16, operation 8, HTTP status 4,
   transport 2, and 1 for an exchange's own rule over a common one;
3. then the narrower code range, then the narrower set of HTTP statuses.

A rule's rank is ``specificity(...)``, computed when the rule is compiled;
the folder a rule comes from (its layer) is put in front of it by
``with_layer`` below, when the registry lays folders over each other. Higher
ranks win.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at start-up
if TYPE_CHECKING:
    from typing import Any

    #: a rule's ``when`` (``rule.Condition``): what ``kinds()`` it has, its ranges
    Condition = Any


WEIGHTS = {
    "code": 64,
    "message": 32,
    "code_range": 16,
    "operation": 8,
    "http_status": 4,
    "transport": 2,
    "own": 1,
}


def specificity(w: Condition, priority: int, own: bool) -> tuple[int, ...]:
    """The precedence key of a rule: higher wins (see the module docstring)."""
    bits = sum(WEIGHTS[k] for k in w.kinds()) + (WEIGHTS["own"] if own else 0)
    range_width = (w.code_range[1] - w.code_range[0]) if w.code_range else 0
    status_width = 0
    if w.http_status is not None:
        status_width += len(set(w.http_status))
    if w.http_status_range is not None:
        status_width += w.http_status_range[1] - w.http_status_range[0] + 1
    return (priority, bits, -range_width, -status_width)


def with_layer(rule: Any, layer: int) -> Any:
    """``rule`` ranked in its folder's layer: ``(layer, *specificity)``.

    Layer 0 holds the common rules (of every folder: they rank below every
    venue's own rule), layer 1 the bundled venue's rules, layer ``i + 1`` the
    rules of the ``i``-th folder given to ``load_rules()``. So a rule of a
    user's folder outranks every bundled rule of its venue (which it must say
    with ``replaces:``, ``normalizer._formats.overrides``), and within a layer
    the order of ``specificity`` holds.
    """
    rule.specificity = (layer, *rule.specificity)
    return rule
