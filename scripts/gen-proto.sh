#!/usr/bin/env bash
# Generates *_pb2.py, *_pb2.pyi and *_pb2_grpc.py for proto/textlens/v1 into $1/textlens/v1.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?output root}
mkdir -p "$out/textlens/v1"
# google/rpc comes from third_party/googleapis (docs/contract.md); the well-known types
# from grpcio-tools. Python's google.rpc modules are googleapis-common-protos', so only
# textlens.v1 is generated here.
protoc=(.venv/bin/python -m grpc_tools.protoc -Iproto -Ithird_party/googleapis)
"${protoc[@]}" --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  proto/textlens/v1/*.proto
printf '"""Generated protobuf and gRPC stubs for textlens.v1 (make proto)."""\n' > "$out/textlens/v1/__init__.py"
