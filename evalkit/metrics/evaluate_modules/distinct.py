"""``evaluate`` module for evalkit\'s ``distinct`` metric; see evalkit.metrics.hf_evaluate."""

import evaluate

from evalkit.metrics.hf_evaluate import compute, metric_info


class Distinct(evaluate.Metric):
    def _info(self):
        return metric_info("distinct", ("predictions",))

    def _compute(self, **kwargs):
        return compute("distinct", **kwargs)
