"""evaluation of centernet_keras."""
