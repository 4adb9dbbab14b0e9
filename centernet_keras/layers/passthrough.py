"""A layer that returns its first input and ignores the others."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="centernet_keras")
class PassThrough(keras.layers.Layer):
    """``[x, *unused] → x``.

    Keeps in the model a branch whose output the reference network computes and then discards
    (DLA's ``Tree.project`` for levels > 1), so the weights exist — parameter counts and
    ``state_dict`` keys match the reference one to one — and its BatchNorm statistics update as
    they do there. Inside a traced function the unused output has no consumer and its
    computation is pruned.
    """

    def call(self, inputs):
        return inputs[0]

    def compute_output_shape(self, input_shape):
        return input_shape[0]
