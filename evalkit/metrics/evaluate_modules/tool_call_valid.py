"""``evaluate`` module for evalkit\'s ``tool_call_valid`` metric; see evalkit.metrics.hf_evaluate."""

import evaluate

from evalkit.metrics.hf_evaluate import compute, metric_info


class ToolCallValid(evaluate.Metric):
    def _info(self):
        return metric_info("tool_call_valid", ("predictions",))

    def _compute(self, **kwargs):
        return compute("tool_call_valid", **kwargs)
