"""``Detector``: the base model every detector of the package builds on.

A detector is a functional ``keras.Model`` (raw RGB images → dict of head outputs) plus what
training, prediction, export and evaluation need from it, all in one place:

- ``class_names``, ``image_resize`` (letterbox or stretch) and ``pretrained_layers`` (what the
  freeze phase freezes), saved with the model;
- ``compute_loss``: the subclass's loss dict (``detector_losses``); every named term is logged,
  weight regularisers are added and the loss is scaled for ``tf.distribute`` replicas;
- ``decoder``: a ``decoding.Decoder`` layer saved with the model. ``maps`` (forward +
  activation, optional flip test through ``merge_flip``) gives what it reads; ``decode``
  (activated maps + the input size → detections) is where ``detect``, ``predict_step``, the
  ``Predictor`` and export run it;
- ``target_encoder``: the ``tf.data`` target function the training pipeline maps;
- ``detector_name``, ``from_settings``, ``decoder_class`` and the capabilities ``keypoint_spec``
  and ``decode_needs_input_size``: what the registry (``models.registry``) and its users
  (training, benchmark, runtimes) ask of a detector class.

Subclasses (``CenterNet``, ``CenterNetPose``, ``FCOS``) build the graph and fill in
``detector_losses``, ``activate``, ``merge_flip``, ``target_encoder``, ``from_settings`` and
their own ``get_config`` keys (FCOS also ``decode``, whose decoder needs the input size), and
register with ``@register_detector``. ``CONTRIBUTING.md`` is the recipe.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

import keras
from keras import ops

from centernet_keras.decoding.base import Decoder

IMAGE_RESIZE_MODES = ("letterbox", "resize")


class Detector(keras.Model):
    """Base of the detectors (not used on its own).

    Args:
        inputs: the image input ``[B, H, W, 3]`` (raw RGB 0–255).
        outputs: dict of head outputs.
        decoder: the decoder ``predict`` and the ``Predictor`` run.
        backbone: the feature extractor (a sub-model of the graph); its
            ``pretrained_layers`` are the default of ``pretrained_layers``.
        num_classes: number of object classes.
        class_names: optional names of the classes, saved with the model.
        image_resize: how images are fitted to the input during training and so at
            inference: ``"letterbox"`` (keep aspect, pad gray) or ``"resize"`` (stretch).
        pretrained_layers: names of the backbone's layers that hold pretrained weights.
    """

    #: the detector's name in the registry, configs and ``--detector`` (``models.registry``).
    detector_name: str = ""
    #: the decoder layer class the detector decodes with (``decoder`` is one).
    decoder_class: type[Decoder] = Decoder
    #: the loss terms besides ``"loss"`` that ``detector_losses`` returns and training logs.
    loss_terms: tuple[str, ...] = ()
    #: the joints a keypoint detector finds (``KeypointSpec``); ``None`` for box detectors. On
    #: the class: a keypoint detector's default joints, so ``None`` says it trains on boxes.
    keypoint_spec = None
    #: whether ``decode`` needs the network input size (FCOS: its locations) — so a runtime
    #: that decodes outside the graph must pass ``image_hw``.
    decode_needs_input_size: bool = False
    #: the output strides of its maps, finest first (a one-map detector: one); the dataset
    #: doctor (``centernet check``, ``train``'s start-up summary) measures boxes against the
    #: finest. Every detector declares it.
    strides: tuple[int, ...] = ()

    def __init__(
        self,
        inputs: keras.KerasTensor,
        outputs: Mapping[str, keras.KerasTensor],
        *,
        decoder: Decoder,
        backbone: keras.Model,
        num_classes: int,
        class_names: Sequence[str] | None = None,
        image_resize: str = "letterbox",
        pretrained_layers: Sequence[str] | None = None,
        **kwargs,
    ):
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(
                f"{len(class_names)} class names given for a model of {num_classes} classes"
            )
        if image_resize not in IMAGE_RESIZE_MODES:
            raise ValueError(
                f"image_resize must be one of {IMAGE_RESIZE_MODES}, got {image_resize!r}"
            )
        if not isinstance(decoder, self.decoder_class):
            raise TypeError(
                f"{type(self).__name__} decodes with a {self.decoder_class.__name__}, got "
                f"{type(decoder).__name__}"
            )
        super().__init__(inputs=inputs, outputs=dict(outputs), **kwargs)
        self.backbone = backbone
        self.decoder = decoder
        self.num_classes = int(num_classes)
        self.class_names = None if class_names is None else tuple(str(c) for c in class_names)
        self.image_resize = image_resize
        if pretrained_layers is None:
            pretrained_layers = getattr(backbone, "pretrained_layers", ())
        self.pretrained_layers = tuple(str(name) for name in pretrained_layers)
        for term in self.loss_terms:  # attribute names as saved by earlier versions
            setattr(self, f"{term}_tracker", keras.metrics.Mean(name=term))

    # ---- what a subclass provides ----------------------------------------------------------

    @classmethod
    def from_settings(cls, num_classes: int, **settings) -> Detector:
        """A new detector as ``train`` and ``benchmark`` build it (``--detector NAME``).

        Args:
            num_classes: the number of object classes of the data.
            **settings: ``backbone`` (a name), ``input_shape`` ``(H, W, 3)``, ``weights``,
                ``class_names``, ``image_resize``, ``keypoint_spec`` (the data's joints, or
                ``None``; a box detector ignores it) and, when set, ``neck``, ``neck_filters``
                (``--neck-filters``), ``head_channels`` (``--head-channels``) and
                ``head_batchnorm``; decoder settings (``max_detections``,
                ``score_threshold``, ``iou_threshold``, ...) where the detector's builder
                takes them.

        Raises:
            ValueError: settings the detector cannot train with, in the flags' words.
        """
        raise NotImplementedError

    def detector_losses(self, y_true: Mapping, y_pred: Mapping) -> dict[str, keras.KerasTensor]:
        """``{"loss": total, <each of loss_terms>: scalar}`` for a batch."""
        raise NotImplementedError

    def activate(self, outputs: Mapping[str, keras.KerasTensor]) -> dict[str, keras.KerasTensor]:
        """Raw head outputs → the maps the decoder reads (e.g. logits → probabilities)."""
        raise NotImplementedError

    def merge_flip(self, maps: Mapping, flipped: Mapping) -> dict[str, keras.KerasTensor]:
        """Merge the maps of images with those of their mirror images (flip test).

        ``flipped`` holds the maps of the horizontally flipped images, still flipped.
        """
        raise NotImplementedError(f"{type(self).__name__} has no flip test")

    def target_encoder(self, max_objects: int) -> Callable[..., dict]:
        """The training targets of one image, as ``tf.data`` maps them.

        Returns:
            ``encode(boxes [N, 4] float32 input pixels, classes [N] int32 (−1: not an object),
            image_hw, keypoints=None) → dict`` of target tensors (TF ops); ``keypoints``
            ``[N, K, 3]`` input pixels when the data has joints (a detector that does not use
            them ignores them).
        """
        raise NotImplementedError

    def target_slots(self, max_objects: int) -> int | None:
        """The boxes per image that ``target_encoder(max_objects)`` trains on: ``max_objects``
        (the first ones; the rest are dropped, and the pipeline warns about them), or ``None``
        when its targets take every box."""
        return max_objects

    # ---- shared ------------------------------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The detector's total loss; logs each term of ``loss_terms``."""
        del x, sample_weight, training
        losses = self.detector_losses(y, y_pred)
        for term in self.loss_terms:
            getattr(self, f"{term}_tracker").update_state(losses[term])
        total = losses["loss"]
        if self.losses:  # weight regularisers, if any
            total = total + ops.sum(ops.stack(self.losses))
        return _scale_for_replicas(total)

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Keras's logged values; of shape ``[1]`` under a multi-worker strategy, where Keras
        3.15 reduces each over axis 0, which fails for scalars (tensorflow/tensorflow#72388).
        """
        results = super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        if _multi_worker():
            results = {key: ops.reshape(value, (1,)) for key, value in results.items()}
        return results

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras's (TF backend) build step at the start of ``fit`` / ``evaluate``, without
        its peek at the data when the model is built.

        Under a ``tf.distribute`` strategy Keras 3.15 takes a batch from the iterator (lost
        to training: the batches drift one from a run without a strategy) and reduces it with
        ``strategy.reduce``, which fails for dict targets with several workers
        (keras-team/keras#20329). A detector is a functional model compiled without Keras
        losses or metrics: its input spec is all the build needs.
        """
        if iterator is None or self._compile_metrics or self._compile_loss:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=(self.inputs[0],))

    def maps(self, images: keras.KerasTensor, flip_test: bool = False) -> dict:
        """Forward + ``activate`` on ``[B, H, W, 3]`` images (uint8 or float, 0–255).

        With ``flip_test`` the mirrored images run in the same batch and ``merge_flip``
        combines both.
        """
        if not flip_test:
            return self.activate(self(ops.cast(images, "float32"), training=False))
        return self.merge_flip(*self.maps_and_mirrored(images))

    def maps_and_mirrored(self, images: keras.KerasTensor) -> tuple[dict, dict]:
        """The activated maps of ``images`` and of their mirror images (still mirrored), from
        one forward pass over both: the two inputs of ``merge_flip``."""
        x = ops.cast(images, "float32")
        b = ops.shape(x)[0]
        both = self.activate(self(ops.concatenate([x, ops.flip(x, axis=2)], 0), training=False))
        return {k: v[:b] for k, v in both.items()}, {k: v[b:] for k, v in both.items()}

    def input_hw(self, images: keras.KerasTensor | None = None) -> tuple[int, int] | None:
        """The network input ``(H, W)`` as Python ints: the static size of ``images`` where
        known, else the model's fixed input size, else ``None``."""
        for hw in (() if images is None else tuple(images.shape[1:3]), self.input_shape[1:3]):
            if len(hw) == 2 and all(d is not None for d in hw):
                return int(hw[0]), int(hw[1])
        return None

    def decode(
        self,
        maps: Mapping[str, keras.KerasTensor],
        image_hw: Sequence[int] | None = None,
        decoder: Decoder | None = None,
    ) -> dict:
        """Activated maps → padded detections, by ``decoder`` (default the model's).

        ``image_hw`` is the network input size the maps were computed on; a decoder that needs
        it (FCOS's locations) gets it, the others ignore it.
        """
        del image_hw
        return (decoder or self.decoder)(maps)

    def detect(
        self, images: keras.KerasTensor, decoder: Decoder | None = None, flip_test: bool = False
    ) -> dict:
        """Images → padded detections in input pixels, by ``decoder`` (default the model's)."""
        return self.decode(self.maps(images, flip_test), self.input_hw(images), decoder)

    def predict_step(self, *args):
        """``detect`` on a batch. Keras's JAX trainer passes ``(state, data)`` and wants
        ``(detections, non_trainable_variables)`` back: the network then runs on the variable
        values of ``state`` (a ``StatelessScope``), as Keras's own ``predict_step`` does."""
        *state, data = args
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if not state:  # TensorFlow, torch
            return self.detect(x)
        trainable, non_trainable = state[0]
        mapping = [
            *zip(self.trainable_variables, trainable, strict=True),
            *zip(self.non_trainable_variables, non_trainable, strict=True),
        ]
        with keras.StatelessScope(state_mapping=mapping):
            return self.detect(x), non_trainable

    def replace(self, **changes) -> Detector:
        """A copy of the model (same weights) with some constructor arguments changed,
        e.g. ``decoder=model.decoder.replace(score_threshold=0.3)`` or ``class_names=…``."""
        config = self.get_config()
        for key, value in changes.items():
            if key not in config:
                raise TypeError(f"{type(self).__name__} has no setting {key!r}")
            config[key] = (
                keras.saving.serialize_keras_object(value)
                if isinstance(value, keras.layers.Layer)
                else value
            )
        clone = type(self).from_config(config)
        clone.set_weights(self.get_weights())
        return clone

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "class_names": None if self.class_names is None else list(self.class_names),
            "image_resize": self.image_resize,
            "pretrained_layers": list(self.pretrained_layers),
        }

    @classmethod
    def from_config(cls, config: dict) -> Detector:
        config = copy.deepcopy(config)  # deserialisation consumes the nested dicts
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def _multi_worker() -> bool:
    """Whether this runs under a ``MultiWorkerMirroredStrategy`` of several workers (the
    condition of Keras's multi-worker reduction of the logs)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf  # only on the TF backend

    strategy = tf.distribute.get_strategy()
    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


def _scale_for_replicas(loss):
    """Divide by the number of tf.distribute replicas, as Keras's own losses do.

    Under a ``MirroredStrategy`` or ``MultiWorkerMirroredStrategy`` the gradients of all
    replicas (of all workers) are summed, so each replica's loss is scaled by
    ``1 / num_replicas_in_sync`` (all replicas): the update is the mean of the replicas'
    gradients, each the gradient of its ``batch / num_replicas`` examples' loss (Keras logs
    the unscaled value). Other backends and the default strategy: unchanged.
    """
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf  # only on the TF backend

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * (1.0 / replicas)
