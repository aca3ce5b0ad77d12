#!/bin/sh
# Replay a fallback file (records the transport gave up on, one JSON record per
# line) once the server is back. stdin waits while the queue is full, so the whole
# file arrives however large it is; the exit code says whether it all did (0).
#   sh examples/replay.sh lost.ndjson ws://127.0.0.1:8080/ json_lines
set -eu
file=${1:?usage: replay.sh FILE URL [FORMAT]}
url=${2:?usage: replay.sh FILE URL [FORMAT]}
format=${3:-msgpack}
bin=$(dirname "$0")/../dist/cjs/cli.js   # or `npx pino-websocket` where the package is installed
node "$bin" --url "$url" --format "$format" < "$file"
echo "replayed $(wc -l < "$file") line(s) from $file" >&2
