"""``evaluate`` module for evalkit\'s ``ppl`` metric; see evalkit.metrics.hf_evaluate."""

import evaluate

from evalkit.metrics.hf_evaluate import compute, metric_info


class Perplexity(evaluate.Metric):
    def _info(self):
        return metric_info("ppl", ("references",))

    def _compute(self, **kwargs):
        return compute("ppl", **kwargs)
