"""``evaluate`` module for evalkit\'s ``bertscore`` metric; see evalkit.metrics.hf_evaluate."""

import evaluate

from evalkit.metrics.hf_evaluate import compute, metric_info


class BertScore(evaluate.Metric):
    def _info(self):
        return metric_info("bertscore", ("predictions", "references"))

    def _compute(self, **kwargs):
        return compute("bertscore", **kwargs)
