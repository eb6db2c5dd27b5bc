"""Rule verifiers: per-example checks shared by best-of-K scoring, GRPO rewards and
evalkit's metrics (see ``base.py`` for the contract). ``VERIFIERS`` lists them:
``json``, ``regex``, ``math_answer``, ``exact_match``, ``tool_call``, ``length``."""

from .base import VERIFIERS, Check, Verifier, VerifierConfig, WeightedVerifiers, make_verifier, register_verifier

__all__ = ["VERIFIERS", "Check", "Verifier", "VerifierConfig", "WeightedVerifiers", "make_verifier", "register_verifier"]
