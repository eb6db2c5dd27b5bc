"""Operators over canonical records: see ``base.py`` for the contract.

Every module in this package registers its ops with ``@register_op``; the registry
(``base.OPS``) imports them all on first lookup, and plug-ins under the ``posttrain.ops``
entry-point group.
"""

from __future__ import annotations

from .base import OPS, Operator, OpConfig, OpResult, get_op, make_op, register_op, registry

__all__ = ["OPS", "Operator", "OpConfig", "OpResult", "get_op", "make_op", "register_op", "registry"]
