#!/usr/bin/env bash
# A three-node JetStream cluster on this machine's loopback, for trying Parley's cluster topology:
#   bash scripts/local-cluster.sh start    # nodes on 127.0.0.1:4222, 4223, 4224 (routes 6222-6224,
#                                          # monitoring 8222-8224), data and logs in .parley/cluster/
#   bash scripts/local-cluster.sh status   # each node's JetStream meta leader and peers
#   bash scripts/local-cluster.sh stop     # stops the nodes this script started (by their pid files)
#
# Each node gets the ingest partition mapping of nats.conf (64 partitions; set PARTITIONS to change it) and
# no authentication: loopback only, a demo. For production render the role users and permissions with
# `npx tsx scripts/render-nats-conf.ts` and uncomment its cluster block on each node instead.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.parley/cluster
PARTITIONS=${PARTITIONS:-64}

node_conf() {
  local i=$1 port=$((4221 + $1)) route=$((6221 + $1)) http=$((8221 + $1))
  cat <<EOF
server_name: "parley-$i"
listen: "127.0.0.1:$port"
http: "127.0.0.1:$http"
max_payload: 1MB
jetstream { store_dir: "$PWD/$DIR/n$i/store", max_memory_store: 256MB, max_file_store: 10GB }
mappings = {
  "ingest.*.*.>": "evt.{{partition($PARTITIONS,1,2)}}.{{wildcard(1)}}.{{wildcard(2)}}.>"
}
cluster {
  name: "parley"
  listen: "127.0.0.1:$route"
  routes: [ "nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6224" ]
}
EOF
}

leader() {
  curl -s "http://127.0.0.1:$((8221 + $1))/jsz" | sed -n 's/.*"leader": *"\([^"]*\)".*/\1/p' | head -1
}

case "${1:-}" in
  start)
    command -v nats-server >/dev/null || { echo "nats-server is not on PATH (Debian: apt-get install nats-server)" >&2; exit 1; }
    for i in 1 2 3; do
      mkdir -p "$DIR/n$i/store"
      if [ -f "$DIR/n$i/pid" ] && kill -0 "$(cat "$DIR/n$i/pid")" 2>/dev/null; then
        echo "node parley-$i already running (pid $(cat "$DIR/n$i/pid"))"
        continue
      fi
      node_conf "$i" >"$DIR/n$i/nats.conf"
      nohup nats-server -c "$DIR/n$i/nats.conf" >"$DIR/n$i/nats.log" 2>&1 &
      echo $! >"$DIR/n$i/pid"
      echo "node parley-$i: nats://127.0.0.1:$((4221 + i)) (pid $!)"
    done
    for _ in $(seq 1 100); do
      if [ -n "$(leader 1)" ]; then
        echo "JetStream meta leader: $(leader 1)"
        echo "export PARLEY_NATS__URL=nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"
        exit 0
      fi
      sleep 0.2
    done
    echo "no JetStream meta leader after 20 s; see $DIR/n*/nats.log" >&2
    exit 1
    ;;
  status)
    for i in 1 2 3; do echo "parley-$i: leader=$(leader "$i")"; done
    ;;
  stop)
    for i in 1 2 3; do
      if [ -f "$DIR/n$i/pid" ]; then
        kill "$(cat "$DIR/n$i/pid")" 2>/dev/null || true
        rm -f "$DIR/n$i/pid"
      fi
    done
    ;;
  *)
    echo "usage: bash scripts/local-cluster.sh start|status|stop" >&2
    exit 2
    ;;
esac
