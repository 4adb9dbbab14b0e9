"""data of centernet_keras."""
