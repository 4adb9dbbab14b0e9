"""Drawing detections, and annotated outputs for images, folders and videos.

- ``draw``: drawing primitives (boxes with non-overlapping labels, FPS, heatmap overlay,
  crops); colours fixed per class id;
- ``pose``: a pose model's people as skeletons (limbs coloured by body side);
- ``annotate``: run a detector (any callable ``image → Detections``, e.g.
  ``inference.Predictor``) on an image, a folder or a video and write the drawn results
  (``drawer`` picks boxes or skeletons); ``save_heatmap``;
- ``grid``: a grid of images with their drawn detections (``val_predictions.jpg``);
- ``tracks``: tracked objects drawn in their ids' colours; ``tracked``: track a video or a
  folder of frames (``tracking.Tracker``) and write the drawn ids and ``tracks.txt``.

Every name below is importable from ``centernet_keras.visualize``.
"""

from centernet_keras.data.image_io import IMAGE_SUFFIXES
from centernet_keras.visualize.annotate import (
    DetectFn,
    Drawer,
    FolderReport,
    OnDetections,
    VideoReport,
    annotate_folder,
    annotate_image,
    annotate_video,
    drawer,
    keypoint_spec_of,
    save_heatmap,
)
from centernet_keras.visualize.draw import (
    Rect,
    class_color,
    crop_detections,
    draw_detections,
    draw_fps,
    heatmap_overlay,
    label_layout,
    label_position,
    place_labels,
    text_color,
)
from centernet_keras.visualize.grid import GRID_BACKGROUND, detections_to_tile, prediction_grid
from centernet_keras.visualize.pose import (
    CENTRE_COLOR,
    LEFT_COLOR,
    RIGHT_COLOR,
    SIDE_COLORS,
    draw_skeletons,
    joint_side,
    limb_side,
)
from centernet_keras.visualize.tracked import TRACKS_FILE, TrackReport, track_video
from centernet_keras.visualize.tracks import draw_tracks, track_color

__all__ = [
    "CENTRE_COLOR",
    "GRID_BACKGROUND",
    "IMAGE_SUFFIXES",
    "LEFT_COLOR",
    "RIGHT_COLOR",
    "SIDE_COLORS",
    "TRACKS_FILE",
    "DetectFn",
    "Drawer",
    "FolderReport",
    "OnDetections",
    "Rect",
    "TrackReport",
    "VideoReport",
    "annotate_folder",
    "annotate_image",
    "annotate_video",
    "class_color",
    "crop_detections",
    "detections_to_tile",
    "draw_detections",
    "draw_fps",
    "draw_skeletons",
    "draw_tracks",
    "drawer",
    "heatmap_overlay",
    "joint_side",
    "keypoint_spec_of",
    "label_layout",
    "label_position",
    "limb_side",
    "place_labels",
    "prediction_grid",
    "save_heatmap",
    "text_color",
    "track_color",
    "track_video",
]
