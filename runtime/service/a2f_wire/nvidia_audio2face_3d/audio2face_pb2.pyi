from eai_avatar.runtime.service.a2f_wire.nvidia_audio2face_3d import messages_pb2 as _messages_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
