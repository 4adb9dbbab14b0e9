"""heads of centernet_keras."""
