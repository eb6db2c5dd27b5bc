"""``evaluate`` module for evalkit\'s ``accuracy`` metric; see evalkit.metrics.hf_evaluate."""

import evaluate

from evalkit.metrics.hf_evaluate import compute, metric_info


class Accuracy(evaluate.Metric):
    def _info(self):
        return metric_info("accuracy", ("predictions", "references"))

    def _compute(self, **kwargs):
        return compute("accuracy", **kwargs)
