"""Loaders and writers: every source format to and from the normalized tables."""
