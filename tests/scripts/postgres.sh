#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# postgres.sh start|stop STATE_DIR
# Starts a throw-away PostgreSQL on 127.0.0.1 for the store tests (there is no systemd: initdb and pg_ctl
# run as user postgres) and writes STATE_DIR/env with FLUID_TEST_PG_* variables; stop ends it by its
# own pid file and removes its data.
set -euo pipefail
cmd=${1:?start|stop}
state=${2:?state dir}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "postgres.sh: PostgreSQL server binaries not found (run scripts/setup-deps.sh)"; exit 1; }
data=/tmp/fluid-test-pg-$(printf '%s' "$(realpath -m "$state")" | sha1sum | cut -c1-12)

stop() {
  if [ -f "$data/db/postmaster.pid" ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$data/db" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$data" "$state"
}

case "$cmd" in
stop)
  stop
  echo "postgres stopped"
  ;;
start)
  stop
  mkdir -p "$state" "$data"
  chown postgres: "$data"
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  printf '%s' "$password" > "$data/pwfile"
  chown postgres: "$data/pwfile"
  runuser -u postgres -- "$bin/initdb" -D "$data/db" -U fluid --auth-host=scram-sha-256 --auth-local=trust \
    --pwfile="$data/pwfile" >"$data/initdb.log" 2>&1 || { cat "$data/initdb.log"; exit 1; }
  rm -f "$data/pwfile"
  # TLS, so the store tests can check sslmode verify-full: a throw-away CA (its certificate in STATE_DIR for
  # the tests) and a server certificate for 127.0.0.1 only (not "localhost": the name check must bite).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=fluid-test-ca \
    -keyout "$data/ca.key" -out "$state/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
    -keyout "$data/server.key" -out "$data/server.csr" 2>/dev/null
  openssl x509 -req -in "$data/server.csr" -CA "$state/ca.crt" -CAkey "$data/ca.key" -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out "$data/server.crt" 2>/dev/null
  chown postgres: "$data/server.key" "$data/server.crt"
  chmod 600 "$data/server.key"
  for port in $(seq 55432 55482); do
    if runuser -u postgres -- "$bin/pg_ctl" -D "$data/db" -w -l "$data/server.log" \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off -c synchronous_commit=off -c ssl=on -c ssl_cert_file=$data/server.crt -c ssl_key_file=$data/server.key" start >/dev/null 2>&1; then
      runuser -u postgres -- "$bin/createdb" -h "$data" -p "$port" -U fluid fluid_test
      cat > "$state/env" <<ENV
FLUID_TEST_PG_HOST=127.0.0.1
FLUID_TEST_PG_PORT=$port
FLUID_TEST_PG_USER=fluid
FLUID_TEST_PG_PASSWORD=$password
FLUID_TEST_PG_DATABASE=fluid_test
FLUID_TEST_PG_CA=$state/ca.crt
ENV
      echo "postgres started on 127.0.0.1:$port"
      exit 0
    fi
    rm -f "$data/db/postmaster.pid"
  done
  cat "$data/server.log" || true
  echo "postgres.sh: could not start PostgreSQL on any port 55432-55482"
  exit 1
  ;;
*)
  echo "usage: postgres.sh start|stop STATE_DIR"; exit 2 ;;
esac
