"""backbones of centernet_keras."""
