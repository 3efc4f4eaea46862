"""Inference-side wrappers of the models: the logic around an engine (windows, state, seeds), no torch."""
