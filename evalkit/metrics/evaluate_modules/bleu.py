"""``evaluate`` module for evalkit\'s ``bleu`` metric; see evalkit.metrics.hf_evaluate."""

import evaluate

from evalkit.metrics.hf_evaluate import compute, metric_info


class Bleu(evaluate.Metric):
    def _info(self):
        return metric_info("bleu", ("predictions", "references"))

    def _compute(self, **kwargs):
        return compute("bleu", **kwargs)
