"""Test and bench support: a synthetic data generator and a fake warehouse HTTP server."""
