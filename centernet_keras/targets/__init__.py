"""targets of centernet_keras."""
