"""models of centernet_keras."""
