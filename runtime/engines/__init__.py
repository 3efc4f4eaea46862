"""Inference engines: one interface (`Engine`: input_spec, output_spec, run) with backends chosen by name."""

from eai_avatar.runtime.engines.base import BACKENDS, Engine, TensorSpec, create_engine

__all__ = ["BACKENDS", "Engine", "TensorSpec", "create_engine"]
