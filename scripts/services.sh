#!/usr/bin/env bash
# The project's real servers on one machine, without Docker:
#   Kafka 4.x (KRaft, one node)         127.0.0.1:9092 (controller 9093; SASL_SSL with SCRAM on 9094)
#   Apicurio Registry 3.x (SQL storage) 127.0.0.1:8081 (management 9001), Confluent API /apis/ccompat/v7
#   S3Proxy (filesystem backend)        127.0.0.1:9000
#   PostgreSQL, Redis                   the machine's own (5432, 6379); started if down, never stopped
#
# usage: scripts/services.sh up|down|status|env|env-sasl|fetch|perf-tools [--brokers 1|3]
#   up          start what is not running (reusing what is), wait until ready, print versions and endpoints
#   down        stop what this script started (pid files in .services/); PostgreSQL and Redis stay up
#   status      each server up or DOWN (exit 1 if any is down)
#   env         `export VAR=...` lines for the endpoints: eval "$(scripts/services.sh env)"
#   env-sasl    the same, with Kafka reached through its SASL_SSL listener (SCRAM-SHA-512, local CA)
#   fetch       download the servers' jars only
#   perf-tools  also fetch kafka-tools (ProducerPerformance, ConsumerPerformance)
#
# --brokers 3 (or SERVICES_BROKERS=3): the three-broker profile. up/down/status/env then use a
# three-node KRaft cluster (each node broker and controller, 256 MB heaps, plain listeners only)
# instead of the single node: 127.0.0.1:19092,19093,19094 (controllers 19192-19194), data under
# .services/kafka-cluster/, every topic at replication factor 3 with min.insync.replicas=2.
# Its ports: KAFKA_CLUSTER_PORTS and KAFKA_CLUSTER_CONTROLLER_PORTS (comma-separated, one per node).
#
# Everything downloaded or written lives under .services/ at the repo root (SERVICES_DIR moves it;
# KAFKA_LIBS names a folder of Kafka jars to use instead of .services/kafka/libs). Jars come from
# Maven Central (and Maven's local repository cache), so a second `up` downloads nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONF="$ROOT/scripts/services"
SVC="${SERVICES_DIR:-$ROOT/.services}"
JAVA="${JAVA:-java}"
MVN=(mvn -B -q)
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

KAFKA_VERSIONS="${KAFKA_VERSIONS:-4.4.0 4.3.1 4.3.0 4.2.0 4.1.1 4.1.0 4.0.0}"
APICURIO_VERSIONS="${APICURIO_VERSIONS:-3.3.3 3.3.2 3.3.1 3.3.0 3.2.1 3.2.0 3.1.0 3.0.9}"
S3PROXY_VERSIONS="${S3PROXY_VERSIONS:-4.0.0 3.3.0 3.0.0 2.9.0}"
S3_ACCESS_KEY="gwb-local"
S3_SECRET_KEY="gwb-local-secret-key"
# The SCRAM user of the local SASL_SSL listener: a local test secret like the S3 keys above.
KAFKA_SCRAM_USER="gwb"
KAFKA_SCRAM_PASSWORD="gwb-local-scram-secret"
READY_TIMEOUT="${READY_TIMEOUT:-180}"

log() { printf '[services] %s\n' "$*" >&2; }
die() {
  printf '[services] ERROR: %s\n' "$*" >&2
  exit 1
}

# Major version of a java binary ("17", "21", "25").
java_major() { "$1" -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1; }

# Apicurio Registry 3.3 is compiled for Java 21 while the machine's default may be 17: pick the
# newest JDK that is new enough (APICURIO_JAVA overrides), searching the usual Debian location.
find_java() {
  local need="$1" best="" best_v=0 j v
  for j in "${APICURIO_JAVA:-}" "$(command -v java || true)" ${JAVA_HOME:+"$JAVA_HOME/bin/java"} /usr/lib/jvm/*/bin/java; do
    [[ -n "$j" && -x "$j" ]] || continue
    v="$(java_major "$j")"
    [[ -n "$v" ]] || continue
    if ((v >= need && v > best_v)); then
      best="$j"
      best_v="$v"
    fi
  done
  [[ -n "$best" ]] && echo "$best"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Runs the check until it passes; on timeout names the server and its log so the
# reader knows where to look instead of guessing.
wait_ready() {
  local name="$1" logfile="$2" check pidfile="${4:-}" deadline=$((SECONDS + READY_TIMEOUT))
  read -ra check <<<"$3"
  until "${check[@]}"; do
    if [[ -n "$pidfile" && -f "$pidfile" ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      tail -n 30 "$logfile" >&2 || true
      die "$name exited before it was ready; see $logfile"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$logfile" >&2 || true
      die "$name not ready after ${READY_TIMEOUT}s; see $logfile"
    fi
    sleep 1
  done
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Starts a detached server (own session, so a Ctrl-C in the calling shell does not take it down).
spawn() {
  local pidfile="$1" logfile="$2"
  shift 2
  mkdir -p "$(dirname "$logfile")"
  setsid nohup "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# maven-dependency-plugin into a temp dir first, so an interrupted download never looks like a
# complete one on the next run.
need_mvn() { command -v mvn >/dev/null || die "mvn not found (Maven 3.8+ fetches the servers' jars the first time)"; }

mvn_copy_deps() {
  local pom="$1" dest="$2" prop="$3" versions="$4" v tmp
  need_mvn
  tmp="$dest.tmp"
  for v in $versions; do
    rm -rf "$tmp"
    log "resolving $(basename "$(dirname "$pom")") $v from Maven Central ..."
    if "${MVN[@]}" -f "$pom" "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime \
      -DoutputDirectory="$tmp" "-D$prop=$v" >"$SVC/maven.log" 2>&1; then
      rm -rf "$dest"
      mv "$tmp" "$dest"
      echo "$v" >"$dest/VERSION"
      return 0
    fi
    log "  $v did not resolve (see $SVC/maven.log)"
  done
  rm -rf "$tmp"
  die "no version of $(basename "$(dirname "$pom")") resolved from: $versions"
}

# ---------------------------------------------------------------- PostgreSQL and Redis (machine's)

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || port_open 5432; }
redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]]; }

ensure_postgres() {
  if ! pg_ready; then
    if ! command -v pg_ctlcluster >/dev/null; then
      log "PostgreSQL not installed; installing from Debian packages"
      apt-get install -y postgresql >"$SVC/apt-postgresql.log" 2>&1 || die "apt-get install postgresql failed; see $SVC/apt-postgresql.log"
    fi
    local ver
    ver="$(ls /etc/postgresql | sort -V | tail -n 1)"
    log "starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || die "PostgreSQL did not start; see /var/log/postgresql/"
    wait_ready PostgreSQL "/var/log/postgresql/postgresql-$ver-main.log" pg_ready
  fi
  local db
  # gwb: the sandbox's; gwb_test and gwb_bench: the test suite's and the bench's, so neither leaves
  # its tenants and messages in the sandbox's.
  for db in gwb gwb_test gwb_bench apicurio; do
    if [[ "$(psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]]; then
      psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db" >/dev/null || die "could not create database $db"
      log "created database $db"
    fi
  done
}

ensure_redis() {
  redis_ready && return 0
  if ! command -v redis-server >/dev/null; then
    log "Redis not installed; installing from Debian packages"
    apt-get install -y redis-server >"$SVC/apt-redis.log" 2>&1 || die "apt-get install redis-server failed; see $SVC/apt-redis.log"
  fi
  log "starting Redis"
  # No persistence: Redis is a cache in this design, never the store of record.
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --logfile "$SVC/redis.log" >/dev/null
  wait_ready Redis "$SVC/redis.log" redis_ready
}

# ------------------------------------------------------------------------------------------ Kafka

KDIR="$SVC/kafka"
KLIBS="${KAFKA_LIBS:-$KDIR/libs}"

kafka_log_started() {
  local from
  from="$(cat "$KDIR/log-offset" 2>/dev/null || echo 0)"
  # No `grep -q`: it exits at the first match, tail then dies of SIGPIPE and pipefail turns the
  # match into a failure once the log is long.
  tail -c +"$((from + 1))" "$KDIR/logs/server.log" 2>/dev/null | grep 'Kafka Server started' >/dev/null
}

# An admin call when the project's own kafkajs is installed; otherwise the broker's own log line.
kafka_ready() {
  port_open 9092 || return 1
  if [[ -d "$ROOT/node_modules/kafkajs" ]]; then
    (cd "$ROOT" && node --input-type=module -e "
      import { Kafka, logLevel } from 'kafkajs';
      const a = new Kafka({ brokers: ['127.0.0.1:9092'], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
      await a.connect(); const c = await a.describeCluster(); await a.disconnect();
      process.exit(c.brokers.length > 0 ? 0 : 1);" 2>/dev/null)
  elif pid_alive "$KDIR/kafka.pid"; then
    kafka_log_started
  else
    # A broker this checkout did not start and no client to ask: the open port is all we know.
    true
  fi
}

kafka_version() { cat "$KLIBS/VERSION" 2>/dev/null || echo unknown; }

kafka_up() {
  if port_open 9092; then
    wait_ready Kafka "$KDIR/logs/server.log" kafka_ready
    log "Kafka: already running on 127.0.0.1:9092 (reused)"
    return 0
  fi
  [[ -f "$KLIBS/VERSION" ]] || mvn_copy_deps "$CONF/kafka/pom.xml" "$KLIBS" kafka.version "$KAFKA_VERSIONS"
  mkdir -p "$KDIR/data" "$KDIR/logs"
  # The SASL_SSL listener's CA and broker keystore, made once (openssl) and kept with the data.
  bash "$CONF/kafka-tls.sh" "$KDIR/tls" || die "could not make the Kafka TLS material in $KDIR/tls"
  sed -e "s#@DATA_DIR@#$KDIR/data#" -e "s#@TLS_DIR@#$KDIR/tls#" -e "s#@KEYSTORE_PASSWORD@#$(cat "$KDIR/tls/password")#" \
    "$CONF/kafka/server.properties.template" >"$KDIR/server.properties"
  local cp="$KLIBS/*"
  if [[ ! -f "$KDIR/data/meta.properties" ]]; then
    local cid
    cid="$("$JAVA" -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    log "formatting Kafka storage (cluster id $cid)"
    "$JAVA" -cp "$cp" kafka.tools.StorageTool format --cluster-id="$cid" -c "$KDIR/server.properties" \
      --standalone --ignore-formatted \
      --add-scram "SCRAM-SHA-512=[name=$KAFKA_SCRAM_USER,password=$KAFKA_SCRAM_PASSWORD]" \
      --add-scram "SCRAM-SHA-256=[name=$KAFKA_SCRAM_USER,password=$KAFKA_SCRAM_PASSWORD]" \
      >>"$KDIR/logs/format.log" 2>&1 || die "Kafka storage format failed; see $KDIR/logs/format.log"
    touch "$KDIR/data/scram-user"
  fi
  stat -c %s "$KDIR/logs/server.log" 2>/dev/null >"$KDIR/log-offset" || echo 0 >"$KDIR/log-offset"
  log "starting Kafka $(kafka_version)"
  spawn "$KDIR/kafka.pid" "$KDIR/logs/stdout.log" \
    "$JAVA" -Xms512m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KDIR/logs" -Dlog4j2.configurationFile="$CONF/kafka/log4j2.properties" \
    -cp "$cp" kafka.Kafka "$KDIR/server.properties"
  PENDING+=("Kafka|$KDIR/logs/server.log|kafka_log_started|$KDIR/kafka.pid")
  PENDING+=("Kafka|$KDIR/logs/server.log|kafka_ready|$KDIR/kafka.pid")
}

# A storage formatted before the SASL_SSL listener existed has no SCRAM user: add it once through
# the Admin API (a one-file Java program on the broker's own jars; kafka-configs is in kafka-tools).
kafka_scram_user() {
  [[ -f "$KDIR/data/scram-user" ]] && return 0
  pid_alive "$KDIR/kafka.pid" || return 0
  log "adding the SCRAM user $KAFKA_SCRAM_USER to the existing Kafka storage"
  "$JAVA" -Xmx128m -cp "$KLIBS/*" "$CONF/kafka/AddScramUser.java" 127.0.0.1:9092 "$KAFKA_SCRAM_USER" "$KAFKA_SCRAM_PASSWORD" \
    >>"$KDIR/logs/format.log" 2>&1 || die "could not add the SCRAM user; see $KDIR/logs/format.log"
  touch "$KDIR/data/scram-user"
}

# ------------------------------------------------------------------- Kafka, three-broker profile

CDIR="$SVC/kafka-cluster"
IFS=',' read -ra CLUSTER_PORTS <<<"${KAFKA_CLUSTER_PORTS:-19092,19093,19094}"
IFS=',' read -ra CLUSTER_CONTROLLERS <<<"${KAFKA_CLUSTER_CONTROLLER_PORTS:-19192,19193,19194}"

cluster_endpoints() {
  local i out=""
  for ((i = 0; i < BROKERS; i++)); do out+="${out:+,}127.0.0.1:${CLUSTER_PORTS[i]}"; done
  echo "$out"
}

# Passes once the node on PORT answers an admin call listing at least MIN brokers (port open only,
# when the project's kafkajs is not installed).
kafka_answers() {
  local port="$1" min="${2:-1}"
  port_open "$port" || return 1
  [[ -d "$ROOT/node_modules/kafkajs" ]] || return 0
  (cd "$ROOT" && node --input-type=module -e "
    import { Kafka, logLevel } from 'kafkajs';
    const a = new Kafka({ brokers: ['127.0.0.1:$port'], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    await a.connect(); const c = await a.describeCluster(); await a.disconnect();
    process.exit(c.brokers.length >= $min ? 0 : 1);" 2>/dev/null)
}

# Every node formatted with one cluster id (made once) and static voters, from the template the
# fault tests' private clusters fill too; nodes already serving are reused.
cluster_up() {
  ((${#CLUSTER_PORTS[@]} >= BROKERS && ${#CLUSTER_CONTROLLERS[@]} >= BROKERS)) ||
    die "KAFKA_CLUSTER_PORTS and KAFKA_CLUSTER_CONTROLLER_PORTS need $BROKERS ports each"
  [[ -f "$KLIBS/VERSION" ]] || mvn_copy_deps "$CONF/kafka/pom.xml" "$KLIBS" kafka.version "$KAFKA_VERSIONS"
  local cp="$KLIBS/*" voters="" i id port dir
  for ((i = 0; i < BROKERS; i++)); do voters+="${voters:+,}$((i + 1))@127.0.0.1:${CLUSTER_CONTROLLERS[i]}"; done
  mkdir -p "$CDIR"
  if [[ ! -s "$CDIR/cluster-id" ]]; then
    "$JAVA" -Xmx128m -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 >"$CDIR/cluster-id"
  fi
  for ((i = 0; i < BROKERS; i++)); do
    id=$((i + 1)) port="${CLUSTER_PORTS[i]}" dir="$CDIR/node$id"
    if port_open "$port"; then
      wait_ready "Kafka node $id" "$dir/logs/server.log" "kafka_answers $port"
      log "Kafka node $id: already running on 127.0.0.1:$port (reused)"
      continue
    fi
    mkdir -p "$dir/data" "$dir/logs"
    sed -e "s#@NODE_ID@#$id#" -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#${CLUSTER_CONTROLLERS[i]}#g" \
      -e "s#@VOTERS@#$voters#" -e "s#@DATA_DIR@#$dir/data#" -e "s#@REPLICAS@#$BROKERS#g" \
      -e "s#@MIN_ISR@#$((BROKERS < 2 ? BROKERS : 2))#g" \
      "$CONF/kafka/cluster-node.properties.template" >"$dir/server.properties"
    if [[ ! -f "$dir/data/meta.properties" ]]; then
      "$JAVA" -Xmx128m -cp "$cp" kafka.tools.StorageTool format --cluster-id="$(cat "$CDIR/cluster-id")" \
        -c "$dir/server.properties" --ignore-formatted >>"$dir/logs/format.log" 2>&1 ||
        die "Kafka node $id storage format failed; see $dir/logs/format.log"
    fi
    log "starting Kafka $(kafka_version) node $id on 127.0.0.1:$port"
    spawn "$dir/kafka.pid" "$dir/logs/stdout.log" \
      "$JAVA" -Xms128m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
      -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$CONF/kafka/log4j2.properties" \
      -cp "$cp" kafka.Kafka "$dir/server.properties"
  done
  # Ready once each node answers and the first one sees every broker registered.
  for ((i = 0; i < BROKERS; i++)); do
    PENDING+=("Kafka node $((i + 1))|$CDIR/node$((i + 1))/logs/server.log|kafka_answers ${CLUSTER_PORTS[i]}|$CDIR/node$((i + 1))/kafka.pid")
  done
  PENDING+=("Kafka cluster|$CDIR/node1/logs/server.log|kafka_answers ${CLUSTER_PORTS[0]} $BROKERS|")
}

# All nodes are signalled at once: stopped one by one, the last would wait for a controller
# quorum that is gone.
cluster_down() {
  local i pid pids=() deadline
  for ((i = 1; i <= BROKERS; i++)); do
    if pid_alive "$CDIR/node$i/kafka.pid"; then
      pid="$(cat "$CDIR/node$i/kafka.pid")"
      kill "$pid"
      pids+=("$pid")
    else
      log "Kafka node $i: not started by this script (nothing to stop)"
    fi
  done
  deadline=$((SECONDS + 30))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      log "Kafka node (pid $pid) did not stop in 30s; killing"
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  for ((i = 1; i <= BROKERS; i++)); do rm -f "$CDIR/node$i/kafka.pid"; done
  ((${#pids[@]} == 0)) || log "Kafka cluster stopped (${#pids[@]} nodes)"
}

# --------------------------------------------------------------------------------------- Apicurio

ADIR="$SVC/apicurio"
REGISTRY="http://127.0.0.1:8081"

apicurio_ready() { [[ "$(curl -s -o /dev/null -w '%{http_code}' "$REGISTRY/apis/ccompat/v7/subjects")" == 200 ]]; }

apicurio_version() {
  curl -s "$REGISTRY/apis/registry/v3/system/info" | sed -n 's/.*"version":"\([^"]*\)".*/\1/p'
}

apicurio_fetch() {
  local v tmp="$ADIR/download.tmp"
  need_mvn
  for v in $APICURIO_VERSIONS; do
    rm -rf "$tmp"
    mkdir -p "$tmp"
    log "resolving Apicurio Registry $v from Maven Central (about 160 MB) ..."
    if "${MVN[@]}" -f "$CONF/kafka/pom.xml" "$DEP_PLUGIN:copy" \
      -Dartifact="io.apicurio:apicurio-registry-app:$v:tar.gz:all" -DoutputDirectory="$tmp" >"$SVC/maven.log" 2>&1; then
      tar -xzf "$tmp"/*.tar.gz -C "$tmp" || die "could not unpack the Apicurio archive in $tmp"
      rm -f "$tmp"/*.tar.gz
      local jar
      jar="$(find "$tmp" -name quarkus-run.jar | head -n 1)"
      [[ -n "$jar" ]] || die "no quarkus-run.jar in the Apicurio $v archive ($tmp)"
      rm -rf "$ADIR/app"
      mv "$(dirname "$jar")" "$ADIR/app"
      rm -rf "$tmp"
      echo "$v" >"$ADIR/app/VERSION"
      return 0
    fi
    log "  $v did not resolve (see $SVC/maven.log)"
  done
  rm -rf "$tmp"
  die "no Apicurio Registry version resolved from: $APICURIO_VERSIONS"
}

apicurio_up() {
  if port_open 8081; then
    wait_ready "Apicurio Registry" "$ADIR/logs/registry.log" apicurio_ready
    log "Apicurio Registry: already running on 127.0.0.1:8081 (reused)"
    return 0
  fi
  mkdir -p "$ADIR/logs"
  [[ -f "$ADIR/app/VERSION" ]] || apicurio_fetch
  local ajava
  ajava="$(find_java 21)" || die "Apicurio Registry 3.3 needs Java 21+; none found (set APICURIO_JAVA=/path/to/java, or APICURIO_VERSIONS=<an older 3.x>)"
  log "starting Apicurio Registry $(cat "$ADIR/app/VERSION") on $ajava (Java $(java_major "$ajava"))"
  # SQL storage on the machine's PostgreSQL: the Confluent wire format embeds schema ids in every
  # Kafka record, so ids must survive a registry restart (in-memory storage would reissue them).
  # Confluent compatibility checks are artifact rules in Apicurio; per-subject config works
  # without a global rule, which stays off so subjects without config accept any change.
  (
    cd "$ADIR/app"
    export QUARKUS_HTTP_HOST=127.0.0.1 QUARKUS_HTTP_PORT=8081
    export QUARKUS_MANAGEMENT_HOST=127.0.0.1 QUARKUS_MANAGEMENT_PORT=9001
    export APICURIO_STORAGE_KIND=sql APICURIO_STORAGE_SQL_KIND=postgresql
    export APICURIO_DATASOURCE_URL="jdbc:postgresql://127.0.0.1:5432/apicurio"
    export APICURIO_DATASOURCE_USERNAME=postgres APICURIO_DATASOURCE_PASSWORD=postgres
    # The default pool holds 20 connections open; the shared local PostgreSQL has 100 in all.
    export APICURIO_DATASOURCE_JDBC_INITIAL_SIZE=2 APICURIO_DATASOURCE_JDBC_MIN_SIZE=2 APICURIO_DATASOURCE_JDBC_MAX_SIZE=20
    # Subjects and schemas may be deleted by tests (Confluent clients expect DELETE to work).
    export APICURIO_REST_DELETION_ARTIFACT_ENABLED=true APICURIO_REST_DELETION_ARTIFACT_VERSION_ENABLED=true
    export APICURIO_REST_DELETION_GROUP_ENABLED=true
    # Boot is class loading on a small machine (35 s on 2 cores): C1 only and an app class-data
    # archive (written on the first clean exit) bring it near 10 s. The registry serves a few
    # lookups per process start (clients cache ids), so peak JIT speed does not matter.
    spawn "$ADIR/apicurio.pid" "$ADIR/logs/registry.log" \
      "$ajava" -Xms128m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -XX:+AutoCreateSharedArchive -XX:SharedArchiveFile="$ADIR/app/cds.jsa" -jar quarkus-run.jar
  )
  PENDING+=("Apicurio Registry|$ADIR/logs/registry.log|apicurio_ready|$ADIR/apicurio.pid")
}

# --------------------------------------------------------------------------------------- S3Proxy

SDIR="$SVC/s3"

s3_ready() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9000/)"
  # Anonymous GET / is refused (403) once the server is serving the S3 API.
  [[ "$code" == 403 || "$code" == 200 ]]
}

s3_up() {
  if port_open 9000; then
    wait_ready S3Proxy "$SDIR/logs/s3proxy.log" s3_ready
    log "S3: already running on 127.0.0.1:9000 (reused)"
    return 0
  fi
  [[ -f "$SDIR/libs/VERSION" ]] || mvn_copy_deps "$CONF/s3proxy/pom.xml" "$SDIR/libs" s3proxy.version "$S3PROXY_VERSIONS"
  mkdir -p "$SDIR/data" "$SDIR/logs"
  cat >"$SDIR/s3proxy.conf" <<EOF
s3proxy.endpoint=http://127.0.0.1:9000
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS_KEY
s3proxy.credential=$S3_SECRET_KEY
s3proxy.virtual-host=
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir=$SDIR/data
jclouds.identity=$S3_ACCESS_KEY
jclouds.credential=$S3_SECRET_KEY
EOF
  log "starting S3Proxy $(cat "$SDIR/libs/VERSION")"
  spawn "$SDIR/s3proxy.pid" "$SDIR/logs/s3proxy.log" \
    "$JAVA" -Xms64m -Xmx256m -XX:+UseSerialGC -Dlogback.configurationFile="$CONF/s3proxy/logback.xml" -cp "$SDIR/libs/*" org.gaul.s3proxy.Main --properties "$SDIR/s3proxy.conf"
  PENDING+=("S3Proxy|$SDIR/logs/s3proxy.log|s3_ready|$SDIR/s3proxy.pid")
}

# ------------------------------------------------------------------------------------- commands

print_env() {
  if ((BROKERS > 1)); then
    cat <<EOF
export KAFKA_BROKERS=$(cluster_endpoints)
export TOPIC_REPLICATION_FACTOR=$BROKERS
export TOPIC_MIN_INSYNC_REPLICAS=$((BROKERS < 2 ? BROKERS : 2))
EOF
  else
    echo "export KAFKA_BROKERS=127.0.0.1:9092"
  fi
  cat <<EOF
export SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/gwb
export REDIS_URL=redis://127.0.0.1:6379/0
export S3_ENDPOINT=http://127.0.0.1:9000
export S3_ACCESS_KEY=$S3_ACCESS_KEY
export S3_SECRET_KEY=$S3_SECRET_KEY
export S3_REGION=us-east-1
EOF
}

# The same endpoints with Kafka reached only through its SASL_SSL listener.
print_env_sasl() {
  ((BROKERS == 1)) || die "env-sasl: the three-broker profile has no SASL_SSL listener"
  print_env | sed 's#^export KAFKA_BROKERS=.*#export KAFKA_BROKERS=127.0.0.1:9094#'
  cat <<EOF
export KAFKA_SECURITY_PROTOCOL=SASL_SSL
export KAFKA_SSL_CA_FILE=$KDIR/tls/ca.crt
export KAFKA_SASL_MECHANISM=SCRAM-SHA-512
export KAFKA_SASL_USERNAME=$KAFKA_SCRAM_USER
export KAFKA_SASL_PASSWORD=$KAFKA_SCRAM_PASSWORD
EOF
}

versions() {
  local pgv redisv
  pgv="$(psql -h 127.0.0.1 -U postgres -d postgres -tAc 'SHOW server_version' 2>/dev/null | cut -d' ' -f1 || echo '?')"
  redisv="$(redis-cli -h 127.0.0.1 INFO server 2>/dev/null | sed -n 's/^redis_version:\(.*\)\r$/\1/p')"
  local kafka="127.0.0.1:9092 (controller 9093, SASL_SSL 9094)  logs $KDIR/logs/server.log"
  ((BROKERS == 1)) || kafka="$(cluster_endpoints) ($BROKERS nodes)  logs $CDIR/node*/logs/server.log"
  printf '  %-20s %-10s %s\n' \
    Kafka "$(kafka_version)" "$kafka" \
    "Apicurio Registry" "$(apicurio_version || true)" "$REGISTRY/apis/ccompat/v7 (management 9001)  logs $ADIR/logs/registry.log" \
    S3Proxy "$(cat "$SDIR/libs/VERSION" 2>/dev/null || echo '?')" "http://127.0.0.1:9000  data $SDIR/data  logs $SDIR/logs/s3proxy.log" \
    PostgreSQL "$pgv" "127.0.0.1:5432 (machine's; databases gwb, gwb_test, gwb_bench, apicurio)" \
    Redis "${redisv:-?}" "127.0.0.1:6379 (machine's)"
}

cmd_up() {
  mkdir -p "$SVC"
  command -v "$JAVA" >/dev/null || die "java not found (Java 17+ needed)"
  local t0=$SECONDS
  ensure_postgres
  ensure_redis
  # The three JVMs boot side by side; each start only queues its readiness check.
  PENDING=()
  if ((BROKERS == 1)); then kafka_up; else cluster_up; fi
  apicurio_up
  s3_up
  local p name logfile check pidfile
  for p in "${PENDING[@]}"; do
    IFS='|' read -r name logfile check pidfile <<<"$p"
    wait_ready "$name" "$logfile" "$check" "$pidfile"
  done
  ((BROKERS > 1)) || kafka_scram_user
  log "all servers ready in $((SECONDS - t0))s"
  versions
  echo
  print_env
}

stop_pidfile() {
  local name="$1" pidfile="$2" pid i
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    log "$name: not started by this script (nothing to stop)"
    return 0
  fi
  pid="$(cat "$pidfile")"
  kill "$pid"
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) did not stop in 30s; killing"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  log "$name stopped"
}

cmd_down() {
  # Registry and S3 first: Kafka's clean shutdown is the slowest and nothing depends on them.
  stop_pidfile S3Proxy "$SDIR/s3proxy.pid"
  stop_pidfile "Apicurio Registry" "$ADIR/apicurio.pid"
  if ((BROKERS == 1)); then stop_pidfile Kafka "$KDIR/kafka.pid"; else cluster_down; fi
  log "PostgreSQL and Redis are the machine's and were left running"
}

cmd_status() {
  local rc=0
  show() {
    local name="$1" check pidfile="$3" state owner=""
    read -ra check <<<"$2"
    if "${check[@]}"; then state=up; else
      state=DOWN
      rc=1
    fi
    [[ -n "$pidfile" ]] && pid_alive "$pidfile" && owner=" (pid $(cat "$pidfile"), started by this script)"
    printf '  %-20s %-5s%s\n' "$name" "$state" "$owner"
  }
  if ((BROKERS == 1)); then
    show Kafka kafka_ready "$KDIR/kafka.pid"
  else
    local i
    for ((i = 0; i < BROKERS; i++)); do
      show "Kafka node $((i + 1)) :${CLUSTER_PORTS[i]}" "kafka_answers ${CLUSTER_PORTS[i]}" "$CDIR/node$((i + 1))/kafka.pid"
    done
  fi
  show "Apicurio Registry" apicurio_ready "$ADIR/apicurio.pid"
  show S3Proxy s3_ready "$SDIR/s3proxy.pid"
  show PostgreSQL pg_ready ""
  show Redis redis_ready ""
  return $rc
}

# Downloads only (CI caches .services/ and ~/.m2 between runs; also how the first-start cost splits).
cmd_fetch() {
  mkdir -p "$SVC" "$ADIR"
  [[ -f "$KLIBS/VERSION" ]] || mvn_copy_deps "$CONF/kafka/pom.xml" "$KLIBS" kafka.version "$KAFKA_VERSIONS"
  [[ -f "$ADIR/app/VERSION" ]] || apicurio_fetch
  [[ -f "$SDIR/libs/VERSION" ]] || mvn_copy_deps "$CONF/s3proxy/pom.xml" "$SDIR/libs" s3proxy.version "$S3PROXY_VERSIONS"
  log "Kafka $(kafka_version), Apicurio Registry $(cat "$ADIR/app/VERSION"), S3Proxy $(cat "$SDIR/libs/VERSION") present under $SVC"
}

# The broker's own load tools (ProducerPerformance, ConsumerPerformance) for the bench's ceiling.
cmd_perf_tools() {
  mkdir -p "$SVC"
  local v
  v="$(kafka_version)"
  [[ "$v" == unknown ]] && v="${KAFKA_VERSIONS%% *}"
  [[ -f "$SVC/kafka-tools/libs/VERSION" ]] ||
    mvn_copy_deps "$CONF/kafka-tools/pom.xml" "$SVC/kafka-tools/libs" kafka.version "$v"
  log "kafka-tools $(cat "$SVC/kafka-tools/libs/VERSION") in $SVC/kafka-tools/libs; for example:"
  echo "java -cp '$SVC/kafka-tools/libs/*' org.apache.kafka.tools.ProducerPerformance --topic T --num-records 100000 --record-size 512 --throughput -1 --producer-props bootstrap.servers=127.0.0.1:9092 acks=all"
}

CMD="${1:-}"
(($# == 0)) || shift
BROKERS="${SERVICES_BROKERS:-1}"
while (($# > 0)); do
  case "$1" in
    --brokers)
      (($# >= 2)) || die "--brokers needs a number"
      BROKERS="$2"
      shift 2
      ;;
    --brokers=*)
      BROKERS="${1#--brokers=}"
      shift
      ;;
    *) die "unknown option $1" ;;
  esac
done
[[ "$BROKERS" == 1 || "$BROKERS" == 3 ]] || die "--brokers (SERVICES_BROKERS) is 1 or 3, not '$BROKERS'"

case "$CMD" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) print_env ;;
  env-sasl) print_env_sasl ;;
  fetch) cmd_fetch ;;
  perf-tools) cmd_perf_tools ;;
  *)
    echo "usage: $0 up|down|status|env|env-sasl|fetch|perf-tools [--brokers 1|3]" >&2
    exit 2
    ;;
esac
