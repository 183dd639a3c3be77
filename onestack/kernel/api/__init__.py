"""The HTTP kernel every service is served by."""
