"""Integrations that carry the advice out over a client library.

They sit beside the supervisor, the batch path and the analysis tools: they
import the engine (``normalize``, ``recommend``) and the supervisor, and nothing
below imports them. ``normalizer.ccxt`` is the public face of ``ccxt``.
"""
