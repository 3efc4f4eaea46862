"""The gRPC service of the v1 contract: translation of wire messages (translate.py), the servicer (servicer.py)
and the guard that turns undecodable bytes into INVALID_ARGUMENT (decoding.py)."""
