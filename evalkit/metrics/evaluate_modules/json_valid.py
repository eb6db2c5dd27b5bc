"""``evaluate`` module for evalkit\'s ``json_valid`` metric; see evalkit.metrics.hf_evaluate."""

import evaluate

from evalkit.metrics.hf_evaluate import compute, metric_info


class JsonValid(evaluate.Metric):
    def _info(self):
        return metric_info("json_valid", ("predictions",))

    def _compute(self, **kwargs):
        return compute("json_valid", **kwargs)
