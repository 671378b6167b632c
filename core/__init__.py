"""Darknet Inspector engine: pure Python, numpy and torch. Never imports Qt."""
