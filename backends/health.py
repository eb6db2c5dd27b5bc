"""Training-health flags: what a loss curve says went wrong, in words.

Four failures look healthy in a progress bar and cost a run:

* ``nonfinite_loss``: a NaN or Inf loss. Caught *in* the training step, before the
  optimizer applies the poisoned gradient, so the saved weights are the last good ones;
  the flag names the step and the batch (its first tokens, decoded).
* ``loss_spike``: a logged loss above ``spike_factor`` x the median of the previous
  ``spike_window`` logs (fewer at the start of a run): a bad batch, a learning rate too high.
* ``exploding_grad_norm``: a gradient norm above ``grad_norm_limit``, or above
  ``grad_norm_factor`` x the running median.
* ``flat_loss`` (``flat_reward`` for sampling stages): the loss never moves (max - min below ``flat_tolerance`` of its mean
  over at least three logs): the learning rate is ~0, or the loss mask is empty or wrong.

Flags are plain dicts (``flag``, ``step``, ``message``) in ``summary.json``.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .config import HealthConfig


class NonFiniteLoss(Exception):
    """Raised inside a training step whose loss is NaN/Inf; the runner stops and reports."""

    def __init__(self, step: int, batch: str, value: float) -> None:
        self.step, self.batch, self.value = step, batch, value
        super().__init__(f"{value} loss at step {step} ({batch})")

    def flag(self) -> dict[str, Any]:
        return {
            "flag": "nonfinite_loss", "step": self.step, "batch": self.batch,
            "message": f"{self.value} loss at step {self.step}; training stopped before applying it. Batch: {self.batch}",
        }


def describe_batch(
    inputs: Mapping[str, Any], tokenizer: Any, micro_batch: int, record_ids: Mapping[tuple[int, ...], str] | None = None,
    chars: int = 60,
) -> str:
    """Which batch: its index in the step, and per sequence the record id (when the stage
    knows its token ids) or else its first characters."""
    key = next((k for k in ("input_ids", "prompt_input_ids", "chosen_input_ids", "completion_input_ids")
                if isinstance(inputs, Mapping) and k in inputs), None)
    if key is None:
        return f"micro-batch {micro_batch}"
    ids = inputs[key]
    mask = inputs.get("attention_mask") if key == "input_ids" else None
    shown = []
    for i, row in enumerate(ids.tolist()[:4]):
        if mask is not None:
            row = [t for t, m in zip(row, mask[i].tolist()) if m]
        if record_ids and tuple(row) in record_ids:
            shown.append(f"id {record_ids[tuple(row)]!r}")
        elif tokenizer is not None:
            text = tokenizer.decode([t for t in row if t != tokenizer.pad_token_id], skip_special_tokens=True)
            shown.append(repr(" ".join(text.split())[:chars]))
    more = f" and {len(ids) - 4} more" if len(ids) > 4 else ""
    return f"micro-batch {micro_batch} of {len(ids)} sequences: {', '.join(shown)}{more}"


def _series(logs: Iterable[Mapping[str, Any]], key: str) -> tuple[list[int], np.ndarray]:
    steps, values = [], []
    for entry in logs:
        value = entry.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            steps.append(int(entry.get("step", len(steps) + 1)))
            values.append(float(value))
    return steps, np.asarray(values, dtype=float)


_FLAT_HINT = {
    "loss": "check the learning rate and the loss mask",
    "reward": "every completion scores the same, so the rewards give no learning signal",
}


def check_logs(
    logs: Sequence[Mapping[str, Any]], config: HealthConfig, loss_key: str = "loss", flat_key: str = "loss",
) -> list[dict[str, Any]]:
    """Flags read from the log history: non-finite losses, spikes, grad norms, and a
    ``flat_key`` series that never moves (the loss; the reward for sampling stages, whose
    loss is legitimately ~0 when a group's rewards are equal)."""
    flags: list[dict[str, Any]] = []
    steps, loss = _series(logs, loss_key)
    bad = [i for i, v in enumerate(loss) if not math.isfinite(v)]
    if bad:
        flags.append({"flag": "nonfinite_loss", "step": steps[bad[0]],
                      "message": f"{loss_key} is {loss[bad[0]]} at step {steps[bad[0]]}"})
    finite = np.isfinite(loss)
    w = config.spike_window
    for i in range(1, len(loss)):
        window = loss[max(0, i - w) : i][finite[max(0, i - w) : i]]
        if finite[i] and window.size and loss[i] > config.spike_factor * np.median(window) > 0:
            flags.append({"flag": "loss_spike", "step": steps[i], "message": (
                f"{loss_key} {loss[i]:.4g} at step {steps[i]} is over {config.spike_factor:g}x the median "
                f"{np.median(window):.4g} of the previous {window.size} logs")})
    g_steps, grad = _series(logs, "grad_norm")
    for i, g in enumerate(grad):
        running = np.median(grad[max(0, i - w) : i]) if i >= 2 else None
        if not math.isfinite(g) or g > config.grad_norm_limit or (
            running is not None and running > 0 and g > config.grad_norm_factor * running
        ):
            flags.append({"flag": "exploding_grad_norm", "step": g_steps[i], "message": (
                f"grad norm {g:.4g} at step {g_steps[i]} (limit {config.grad_norm_limit:g}"
                + (f", running median {running:.4g}" if running is not None else "") + ")")})
            break
    f_steps, series = _series(logs, flat_key)
    values = series[np.isfinite(series)]
    if values.size >= 3:
        spread, scale = float(values.max() - values.min()), float(abs(values.mean()))
        if spread <= config.flat_tolerance * max(scale, 1e-12):
            flags.append({"flag": f"flat_{flat_key}", "step": f_steps[-1], "message": (
                f"{flat_key} stayed at {values.mean():.6g} (spread {spread:.3g}) over {values.size} logs: "
                + _FLAT_HINT.get(flat_key, "it never moves"))})
    return flags
