#!/bin/bash
# `make bench-instructions`: the instructions mcpwardend executes per
# request, counted by callgrind while bench/bench.mjs drives it (fixed
# upstream, 4 connections, durable and forwarding first). Instruction
# counts do not move with the machine's noise, where times on a small VM
# move by 10% from one run to the next: compare two builds with this, and
# their throughput with bench.mjs. Not a time: valgrind runs the daemon
# about 50 times slower, and without the CPU's SHA extensions, so the
# audit hash counts several times what it costs on the machine.
#
# usage: bench/instructions.sh [BUILD] (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
	echo "bench-instructions: needs valgrind (apt-get install valgrind)" >&2
	exit 1
fi
for f in mcpwardend mcpwarden; do
	if [[ ! -x $build/$f ]]; then
		echo "bench-instructions: no $build/$f (run make)" >&2
		exit 1
	fi
done
work=$(mktemp -d /tmp/mw-instructions-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin" "$work/out"
# bench.mjs starts "$BUILD/mcpwardend": this one runs the real daemon
# under callgrind, one profile per daemon
cat >"$work/bin/mcpwardend" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$work/out/cg.%p \
	$build/mcpwardend "\$@"
EOF
chmod +x "$work/bin/mcpwardend"
ln -s "$build/mcpwarden" "$work/bin/mcpwarden"
node bench/bench.mjs --build "$work/bin" --upstreams fixed --conns 4 \
	--setups mcpwarden,mw+fwd-first --runs 1 --duration 15 >"$work/bench.txt"
awk '/^\| fixed \| 4 \| (mcpwarden|mw\+fwd-first) \|/ && n++ < 2' "$work/bench.txt"

# the daemons in the order they ran: mcpwarden, then mw+fwd-first
setups=(mcpwarden mw+fwd-first)
i=0
for f in $(ls -tr "$work"/out/cg.*); do
	callgrind_annotate --inclusive=yes "$f" >"$work/inclusive.txt" 2>/dev/null
	# every request a client sends completes here once
	# (awk reads to the end: a reader that stops early fails the
	# pipeline with SIGPIPE under pipefail)
	requests=$(callgrind_annotate --tree=calling "$f" 2>/dev/null |
		awk '/=> .*proxy\.c:req_on_complete \(/ && !n++ {
			match($0, /\([0-9,]+x\)/);
			v = substr($0, RSTART + 1, RLENGTH - 3);
			gsub(",", "", v); print v }')
	if [[ -z $requests || $requests == 0 ]]; then
		echo "bench-instructions: no request reached ${setups[$i]}" >&2
		exit 1
	fi
	echo
	echo "${setups[$i]}: $requests requests; instructions per request," \
		"with what the function calls"
	grep -E '^ *[0-9,]+ \( ?[0-9.]+%\)  [^ ]+:[^ ]+ \[.*(mcpwardend|libjansson|libhttp_parser|libcrypto|libc\.so)' \
		"$work/inclusive.txt" |
		grep -E 'mw_loop_run|req_on_complete|resp_on_complete|on_headers_complete|mw_rpc_parse|mw_json_loadb|mw_rpc_batch_free|judge_server_batch|mw_audit_submit|mw_chain_hash|put_escaped|set_json|http_parser_execute|malloc\.c:(malloc|free) |strcasecmp|vfprintf' |
		awk -v n="$requests" '{ v = $1; gsub(",", "", v);
			match($0, /[^ ]+ \[/);
			name = substr($0, RSTART, RLENGTH - 2);
			sub(/^.*:/, "", name);
			if (!(name in seen)) { seen[name] = 1;
				printf "  %9.0f  %s\n", v / n, name } }'
	i=$((i + 1))
done
