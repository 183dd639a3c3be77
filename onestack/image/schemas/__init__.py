"""The image service's schemas."""
