"""Shipped Edunex training data, answer templates and the trained model (package data)."""
