"""The 24 single-image generators and the caption generator, one module per family."""
