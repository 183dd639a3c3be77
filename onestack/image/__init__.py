"""Glance v2: images, their data, members and tags."""
