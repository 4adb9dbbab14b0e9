"""``TorchAdam``: Adam with PyTorch's update rule (the reference CenterNet trains with it).

Keras' ``Adam`` and ``torch.optim.Adam`` differ only in where epsilon sits. With ``m``, ``v`` the
moment estimates after ``t`` steps and ``c1 = 1 − β1^t``, ``c2 = 1 − β2^t``:

- Keras: ``θ −= lr·√c2/c1 · m / (√v + ε)``, default ``ε = 1e-7``;
- torch: ``θ −= lr/c1 · m / (√v/√c2 + ε)``, default ``ε = 1e-8``.

Keras' ε thus acts ``1/√c2`` times larger (31.6× on the first step with β2 = 0.999, 1.26× at
step 1000), on top of being 10× larger: small gradients take smaller steps. ``TorchAdam``
computes torch's update (``--optimizer adam_torch``). Its ``weight_decay`` is Keras' decoupled
decay, applied before the step at the step's LR: with it the update is ``torch.optim.AdamW``'s.
"""

from __future__ import annotations

import keras
from keras import ops

from centernet_keras.choices import OPTIMIZERS  # noqa: F401  (the names, defined there)


@keras.saving.register_keras_serializable(package="centernet_keras")
class TorchAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with ``torch.optim.Adam``'s update and default epsilon.

    Epsilon is added to the bias-corrected ``√v̂ = √(v / (1 − β2^t))``, as torch adds it;
    ``amsgrad`` keeps the running maximum of ``v`` as torch does. Arguments and saved state
    (``momentum`` / ``velocity`` per variable) are ``Adam``'s, so a ``.keras`` file holding
    this optimizer saves and resumes like one holding ``Adam``.
    """

    def __init__(self, learning_rate=0.001, epsilon: float = 1e-8, **kwargs):
        super().__init__(learning_rate=learning_rate, epsilon=epsilon, **kwargs)

    def update_step(self, gradient, variable, learning_rate) -> None:
        """One torch Adam step of ``variable`` (any shape) with ``gradient`` (same shape)."""
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        correction_1 = _bias_correction(self.beta_1, step)
        correction_2 = _bias_correction(self.beta_2, step)

        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        if self.amsgrad:
            v_max = self._velocity_hats[index]
            self.assign(v_max, ops.maximum(v_max, v))
            v = v_max
        denominator = ops.add(ops.divide(ops.sqrt(v), ops.sqrt(correction_2)), self.epsilon)
        self.assign_sub(variable, ops.divide(ops.multiply(m, lr / correction_1), denominator))


def _bias_correction(beta: float, step):
    """``1 − β^step`` (``step`` a scalar tensor) to the precision of ``step``'s dtype.

    Computed as ``−expm1(step · log1p(−(1 − β)))`` with ``1 − β`` taken in Python floats: the
    plain ``1 − β^step`` in float32 loses ~1e-5 of ``1 − β2`` to the rounding of ``β2 = 0.999``
    (torch computes it in Python floats, i.e. float64).
    """
    log_beta = ops.log1p(ops.convert_to_tensor(-(1.0 - float(beta)), dtype=step.dtype))
    return -ops.expm1(step * log_beta)
