"""evalkit: metrics, eval runs, run comparison, judge win-rate, lm-eval bridge."""
