#!/usr/bin/env bash
# Generates the textlens.v1 Python stubs (*_pb2.py, *_pb2.pyi, *_pb2_grpc.py) and the
# descriptor set with comments that reflection serves (textlens.binpb) into $1/textlens/v1.
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
# Comments (source info) and every import, so reflection describes each method with its
# documentation; error_details.proto too, so tools resolve the error details by reflection.
"${protoc[@]}" --include_imports --include_source_info \
  --descriptor_set_out="$out/textlens/v1/textlens.binpb" \
  proto/textlens/v1/*.proto third_party/googleapis/google/rpc/error_details.proto
printf '"""Generated protobuf and gRPC stubs for textlens.v1 (make proto)."""\n' > "$out/textlens/v1/__init__.py"
