"""``evaluate`` module for evalkit\'s ``exact_match`` metric; see evalkit.metrics.hf_evaluate."""

import evaluate

from evalkit.metrics.hf_evaluate import compute, metric_info


class ExactMatch(evaluate.Metric):
    def _info(self):
        return metric_info("exact_match", ("predictions", "references"))

    def _compute(self, **kwargs):
        return compute("exact_match", **kwargs)
