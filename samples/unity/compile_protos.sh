#!/bin/sh
# Compiles the wire contract (proto/eai_avatar/v1) to C# into Assets/EaiAvatar/Generated.
# Needs protoc and grpc_csharp_plugin: the Grpc.Tools NuGet package ships both (tools/<os>_<arch>/), or on Debian
# `apt-get install protobuf-compiler` plus the plugin from Grpc.Tools (Debian's protobuf-compiler-grpc has none).
set -e
here=$(cd "$(dirname "$0")" && pwd)
proto="$here/../../proto"
out="$here/Assets/EaiAvatar/Generated"
plugin=${GRPC_CSHARP_PLUGIN:-$(command -v grpc_csharp_plugin || true)}
if [ -z "$plugin" ]; then
    echo "grpc_csharp_plugin not found: install the Grpc.Tools NuGet package and set GRPC_CSHARP_PLUGIN to its" >&2
    echo "tools/<os>_<arch>/grpc_csharp_plugin" >&2
    exit 1
fi
mkdir -p "$out"
protoc --proto_path="$proto" --csharp_out="$out" --grpc_out="$out" --plugin=protoc-gen-grpc="$plugin" \
    "$proto"/eai_avatar/v1/*.proto
echo "C# stubs written to $out"
