"""``evaluate`` module for evalkit\'s ``self_bleu`` metric; see evalkit.metrics.hf_evaluate."""

import evaluate

from evalkit.metrics.hf_evaluate import compute, metric_info


class SelfBleu(evaluate.Metric):
    def _info(self):
        return metric_info("self_bleu", ("predictions",))

    def _compute(self, **kwargs):
        return compute("self_bleu", **kwargs)
