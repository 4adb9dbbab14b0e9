"""A toy detector defined only in the tests, to show that a new detector needs no edit of the
package: a centre-point detector (one heatmap + size head at stride 8 on a three-conv backbone)
with its own target encoder, loss and decoder layer, registered as ``--detector toy``.

Importing this package registers it (``models.registry.register_detector``) and its Keras
objects. ``CONTRIBUTING.md`` walks through the same files.
"""

from toy_detector.model import CenterPoint, build_center_point

__all__ = ["CenterPoint", "build_center_point"]
