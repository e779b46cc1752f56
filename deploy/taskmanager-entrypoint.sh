#!/usr/bin/env bash
# A Flink TaskManager with Beam's Python SDK worker pool beside it, in one container.
#
# The stream job is submitted with `--environment_type=EXTERNAL --environment_config=localhost:50000`:
# for every Python stage the TaskManager asks the worker pool on localhost:50000 to start an SDK
# worker, and that worker connects back to the TaskManager's control and data servers, which
# listen on the container's own addresses. Pool and TaskManager therefore share one network
# namespace; keeping them in one container (rather than a sidecar in
# `network_mode: service:flink-taskmanager`, which attaches to the first replica only) is what
# makes `docker-compose up --scale flink-taskmanager=N` give N working TaskManagers.
#
# Flink settings come from FLINK_PROPERTIES (one `key: value` per line, as for the official
# Flink image), passed as dynamic properties. If either process exits, the container exits.
set -euo pipefail

FLINK_HOME=${FLINK_HOME:-/opt/flink}

dynamic=()
while IFS= read -r line; do
  line="${line#"${line%%[![:space:]]*}"}"        # trim leading blanks
  [[ -z "$line" || "$line" == \#* ]] && continue
  key="${line%%:*}"
  value="${line#*:}"
  value="${value#"${value%%[![:space:]]*}"}"
  dynamic+=("-D${key}=${value}")
done <<< "${FLINK_PROPERTIES:-}"

# Advertise this replica's own address unless told otherwise (each scaled replica differs).
if [[ "${FLINK_PROPERTIES:-}" != *"taskmanager.host"* ]]; then
  dynamic+=("-Dtaskmanager.host=$(hostname -i | awk '{print $1}')")
fi

# boot --worker_pool always listens on port 50000 (fixed in Beam's boot program).
/opt/apache/beam/boot --worker_pool &
pool=$!

"${FLINK_HOME}/bin/taskmanager.sh" start-foreground "${dynamic[@]}" "$@" &
tm=$!

stop() { kill -TERM "$tm" "$pool" 2>/dev/null || true; }
trap stop TERM INT

status=0
wait -n "$tm" "$pool" || status=$?
stop
wait || true
exit "$status"
