"""training of centernet_keras."""
