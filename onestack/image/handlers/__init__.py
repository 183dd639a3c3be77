"""The image service's handlers."""
