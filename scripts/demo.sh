#!/bin/bash
# `make demo`: the product end to end on this host. Starts the reference MCP
# server, the daemon with policy/demo.yaml, puts an MCP client written with
# the official TypeScript SDK in an enforced cgroup (it connects to the
# server's normal URL), prints what was recorded, replays a session,
# verifies the chain, exports an evidence package, and cleans up everything.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
CONFIG=policy/demo.yaml # copied to root's own directory below
STATE=/tmp/mcpwarden-demo # policy/demo.yaml's state_dir, which mcpwardend makes
PINS=/sys/fs/bpf/mcpwarden-demo
CG_NAME=mcpwarden-demo
SERVER_PORT=3001

[ "$(id -u)" = 0 ] || { echo "demo: run as root (eBPF and cgroups need it)" >&2; exit 1; }
CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CG_ROOT" ] || { echo "demo: cgroup v2 is not mounted" >&2; exit 1; }
CG="$CG_ROOT/$CG_NAME"

RUN=
pids=()
cleanup() {
	set +e
	[ -d "$CG" ] && "$BUILD/mcpwarden" -c "$CONFIG" release "$CG_NAME" >/dev/null 2>&1
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	if [ -d "$CG" ]; then
		for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		rmdir "$CG" 2>/dev/null
	fi
	rm -rf "$PINS"
	rm -rf "$STATE"
	[ -n "$RUN" ] && rm -rf "$RUN"
}
cleanup # what an interrupted run left
trap cleanup EXIT
# The demo's own files, where no other user can put a link first. The
# daemon reads a configuration only when nobody but root could have
# written it: a clone in a user's home is that user's, so it runs a copy.
RUN=$(mktemp -d /tmp/mcpwarden-demo-run.XXXXXX)
install -m 0644 "$CONFIG" "$RUN/demo.yaml"
CONFIG=$RUN/demo.yaml

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "reference MCP server (server-everything, Streamable HTTP) on 127.0.0.1:$SERVER_PORT"
node tests/mcp/server.mjs --port "$SERVER_PORT" --host 127.0.0.1 >"$RUN/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^ready' "$RUN/server.log" && break; sleep 0.1; done
grep -q '^ready' "$RUN/server.log" || { cat "$RUN/server.log"; exit 1; }

step "mcpwardend -c $CONFIG (embedded PostgreSQL under $STATE)"
"$BUILD/mcpwardend" -c "$CONFIG" 2>"$RUN/daemon.log" &
pids+=($!)
for _ in $(seq 300); do grep -q 'ready' "$RUN/daemon.log" && break; sleep 0.1; done
grep -q 'ready' "$RUN/daemon.log" || { cat "$RUN/daemon.log"; exit 1; }
sed 's/^/  daemon: /' "$RUN/daemon.log"

step "enforce cgroup $CG_NAME"
mkdir -p "$CG"
"$BUILD/mcpwarden" -c "$CONFIG" enforce "$CG_NAME"

step "SDK client inside $CG_NAME, connecting to http://127.0.0.1:$SERVER_PORT/mcp (unchanged URL)"
sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
	node tests/mcp/client.mjs --scenario full "http://127.0.0.1:$SERVER_PORT/mcp" |
	head -c 2000
echo

step "the policy at work: the same client asks the server to echo a password"
# echo-no-secrets in policy/demo.yaml refuses it: the server never sees it.
if sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
	node tests/mcp/client.mjs --scenario echo --message "my password is hunter2" \
	"http://127.0.0.1:$SERVER_PORT/mcp" >/dev/null 2>"$RUN/denied"; then
	echo "  unexpected: the call went through" >&2
	exit 1
fi
sed 's/^/  client: /' "$RUN/denied"

step "masking: the server echoes a card number, an SSN and an e-mail address"
# policy/demo.yaml masks cards (partially) and SSNs before the client sees
# them; the e-mail reaches the client, the trail keeps a keyed hash of it.
sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
	node tests/mcp/steps.mjs "http://127.0.0.1:$SERVER_PORT/mcp" \
	'[{"op":"call","name":"echo","args":{"message":"card 4111 1111 1111 1111, SSN 123-45-6780, mail jane@example.com"}}]' |
	node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log("  client got:", JSON.parse(s).steps[0].text))'

step "live status"
"$BUILD/mcpwarden" -c "$CONFIG" status | sed -n '1,40p'

step "what was recorded (mcpwarden sql)"
sleep 0.3
"$BUILD/mcpwarden" -c "$CONFIG" sql -P pager=off -c \
	"SELECT to_char(ts, 'HH24:MI:SS.MS') AS ts, comm, pid, uid, cgroup, method, tool,
	        left(arguments::text, 32) AS arguments, decision, rule, is_error,
	        round(latency_ms::numeric, 2) AS ms
	   FROM mcpwarden.tool_calls ORDER BY seq"

step "what masking replaced, by detector (never the values)"
"$BUILD/mcpwarden" -c "$CONFIG" sql -P pager=off -c \
	"SELECT tool, arguments->>'message' AS recorded_arguments,
	        arguments_masked, masked
	   FROM mcpwarden.tool_calls WHERE masked IS NOT NULL ORDER BY seq"

step "the connections, tied to the process that opened them"
"$BUILD/mcpwarden" -c "$CONFIG" sql -P pager=off -c \
	"SELECT conn_id, pid, user_name, comm, exe, cgroup, client_addr, server_addr
	   FROM mcpwarden.connections ORDER BY conn_id"

step "the refused call's session as a timeline (mcpwarden replay)"
SID=$("$BUILD/mcpwarden" -c "$CONFIG" sql -At -c \
	"SELECT session_id FROM mcpwarden.tool_calls WHERE decision = 'deny' LIMIT 1")
"$BUILD/mcpwarden" -c "$CONFIG" replay "$SID" --width 48

step "the hash chain and its signatures (mcpwarden audit verify)"
"$BUILD/mcpwarden" -c "$CONFIG" audit verify

step "an evidence package of today for an auditor (mcpwarden evidence export)"
"$BUILD/mcpwarden" -c "$CONFIG" evidence export --since "$(date -u +%F)" \
	--until "$(date -u -d tomorrow +%F)" -o "$STATE/evidence"
ls "$STATE/evidence"
step "done: cleaning up"
