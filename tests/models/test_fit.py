"""model.fit on a tiny CenterNet and a handful of synthetic images makes the loss fall."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from centernet_keras.models import build_centernet
from centernet_keras.targets import encode_targets

SIZE, NUM_CLASSES, MAX_OBJECTS = 64, 2, 4


def _synthetic(rng, n):
    images, boxes, classes = [], [], []
    for _ in range(n):
        image = rng.uniform(0, 60, (SIZE, SIZE, 3)).astype("float32")
        k = rng.integers(1, MAX_OBJECTS + 1)
        b = np.full((MAX_OBJECTS, 4), 0, np.float32)
        c = np.full((MAX_OBJECTS,), -1, np.int32)
        for i in range(k):
            w, h = rng.integers(10, 28, 2)
            x1, y1 = rng.integers(0, SIZE - w), rng.integers(0, SIZE - h)
            cls = rng.integers(0, NUM_CLASSES)
            image[y1 : y1 + h, x1 : x1 + w, cls] = 255.0  # class = colour channel
            b[i], c[i] = (x1, y1, x1 + w, y1 + h), cls
        images.append(image)
        boxes.append(b)
        classes.append(c)
    return np.stack(images), np.stack(boxes), np.stack(classes)


@pytest.mark.kernels
@pytest.mark.slow
def test_fit_reduces_loss():
    keras.utils.set_random_seed(0)
    images, boxes, classes = _synthetic(np.random.default_rng(0), 16)

    def to_targets(image, b, c):
        return image, encode_targets(b, c, (SIZE, SIZE), NUM_CLASSES, max_objects=MAX_OBJECTS)

    data = tf.data.Dataset.from_tensor_slices((images, boxes, classes)).map(to_targets).batch(8)
    model = build_centernet(
        NUM_CLASSES,
        backbone="resnet18",
        input_shape=(SIZE, SIZE, 3),
        neck_filters=(32, 32, 32),
        head_channels=16,
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    history = model.fit(data, epochs=12, verbose=0).history
    for key in ("loss", "heatmap_loss", "size_loss", "offset_loss"):
        assert key in history and np.all(np.isfinite(history[key])), key
    assert history["loss"][-1] < 0.5 * history["loss"][0], history["loss"]
    assert history["heatmap_loss"][-1] < history["heatmap_loss"][0]
    assert history["size_loss"][-1] < history["size_loss"][0]
