"""necks of centernet_keras."""
