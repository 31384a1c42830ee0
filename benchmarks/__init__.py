"""Benchmarks of minigrad and its LSTM; run from the checkout, e.g. ``python -m benchmarks.lstm_step``."""
