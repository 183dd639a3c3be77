"""The image service's objects."""
