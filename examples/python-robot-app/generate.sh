#!/bin/sh
# Generates the Python protobuf and gRPC stubs of fleetkey's wire contract (proto/fleetkey/v1)
# into OUT (default: the gen/ directory next to this script). Needs protoc and the gRPC Python
# plugin (Debian/Ubuntu: protobuf-compiler, protobuf-compiler-grpc).
#
# Usage: ./generate.sh [OUT]
#   FLEETKEY_PROTO_DIR   the proto/ directory (default: the one of this repository)
#   PROTOBUF_INCLUDE     where google/protobuf/*.proto live (default /usr/include)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
proto_dir=${FLEETKEY_PROTO_DIR:-$(cd "$here/../.." && pwd)/proto}
include=${PROTOBUF_INCLUDE:-/usr/include}
out=${1:-$here/gen}

command -v protoc >/dev/null 2>&1 || { echo "protoc not found: install protobuf-compiler" >&2; exit 1; }
plugin=$(command -v grpc_python_plugin) || { echo "grpc_python_plugin not found: install protobuf-compiler-grpc" >&2; exit 1; }
[ -f "$proto_dir/fleetkey/v1/agent.proto" ] || { echo "no fleetkey/v1/agent.proto under $proto_dir (set FLEETKEY_PROTO_DIR)" >&2; exit 1; }

mkdir -p "$out"
# The generated modules import each other as fleetkey.v1.*_pb2, so OUT is what goes on the
# Python path (fleetkey/ and fleetkey/v1/ are namespace packages; no __init__.py needed).
protoc -I "$proto_dir" -I "$include" \
  --python_out="$out" --grpc_out="$out" --plugin=protoc-gen-grpc="$plugin" \
  "$proto_dir"/fleetkey/v1/*.proto
echo "generated Python stubs into $out"
