"""Serving a bundle's models from Triton on this machine: PyTriton's tritonserver in a venv of its own
(`environment.py`) running `pytriton_server.py`. The runtime's client side is `runtime/engines/triton.py`."""
