"""Wire contract v1: messages and stubs generated from `proto/eai_avatar/v1/*.proto`.

The `*_pb2.py` and `*_pb2_grpc.py` modules here are build products (setup.py runs `proto/generate.py`);
edit the .proto files, never these. Import the modules you need, e.g.
`from eai_avatar.v1 import converse_pb2, service_pb2_grpc`.
"""

#: Fully-qualified name of the service, as health checking and reflection report it.
SERVICE_NAME = "eai_avatar.v1.AvatarService"
