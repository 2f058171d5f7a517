#!/bin/bash
# Installs what mcpwarden needs to build and test, on Debian 12, as root.
# Idempotent: a run with nothing to do changes nothing and prints nothing.
# One line per step it takes; the output of apt/npm only when they fail.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG=$(mktemp /tmp/mcpwarden-deps.XXXXXX)
POLICY_RC_ADDED=""
cleanup() {
	rm -f "$LOG"
	if [[ -n $POLICY_RC_ADDED ]]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

step() { echo "deps: $*"; }
die() {
	echo "deps: ERROR: $*" >&2
	exit 1
}
# run DESCRIPTION CMD...: quiet unless it fails
run() {
	local what=$1
	shift
	if ! "$@" >"$LOG" 2>&1; then
		echo "deps: ERROR: $what failed: $*" >&2
		if (($(wc -l <"$LOG") > 40)); then
			head -n 20 "$LOG" >&2
			echo "  [...]" >&2
			tail -n 15 "$LOG" >&2
		else
			cat "$LOG" >&2
		fi
		exit 1
	fi
}

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs Debian packages)"
if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
	die "apt-get/dpkg not found: this script is for Debian 12"
fi

PKGS=(
	build-essential make pkg-config clang llvm libbpf-dev bpftool libelf-dev
	zlib1g-dev libjansson-dev libyaml-dev libhttp-parser-dev libpq-dev
	libssl-dev libvectorscan-dev libpcre2-dev libcriterion-dev postgresql postgresql-client
	iproute2 procps psmisc curl nginx-light wrk valgrind clang-format libclang-rt-14-dev
)
# Node: keep a node that is already there (e.g. a newer one from elsewhere);
# only without one take Debian's nodejs + npm.
if ! command -v node >/dev/null; then
	PKGS+=(nodejs npm)
elif ! command -v npm >/dev/null; then
	if dpkg-query -W -f='${Maintainer}' nodejs 2>/dev/null | grep -qi debian; then
		PKGS+=(npm)
	else
		die "node is installed ($(command -v node)) but npm is missing: install the npm that goes with that node"
	fi
fi

installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}
MISSING=()
for p in "${PKGS[@]}"; do
	installed "$p" || MISSING+=("$p")
done

if ((${#MISSING[@]})); then
	step "apt-get update (missing: ${MISSING[*]})"
	run "apt-get update" apt-get update -q
	# Keep services the packages ship (nginx on :80, PostgreSQL's main
	# cluster) from being started by the install: tests and benchmarks run
	# their own instances.
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		POLICY_RC_ADDED=1
	fi
	step "apt-get install ${MISSING[*]}"
	run "apt-get install" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${MISSING[@]}"
	if [[ -n $POLICY_RC_ADDED ]]; then
		rm -f /usr/sbin/policy-rc.d
		POLICY_RC_ADDED=""
	fi
	if [[ " ${MISSING[*]} " == *" nginx-light "* ]]; then
		step "stop and disable Debian's nginx service"
		if [[ -d /run/systemd/system ]]; then
			systemctl stop nginx >/dev/null 2>&1 || true
			systemctl disable nginx >/dev/null 2>&1 || true
		else
			if [[ -x /etc/init.d/nginx ]]; then /etc/init.d/nginx stop >/dev/null 2>&1 || true; fi
			update-rc.d nginx disable >/dev/null 2>&1 || true
		fi
	fi
	for p in "${MISSING[@]}"; do
		installed "$p" || die "package $p is still not installed after apt-get install"
	done
fi

NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) ||
	die "node does not run: $(command -v node)"
((NODE_MAJOR >= 18)) ||
	die "node $(node --version) is too old: the MCP SDK needs node >= 18"

if ! id -u mcpwarden >/dev/null 2>&1; then
	step "create system user mcpwarden (runs the embedded PostgreSQL)"
	run "useradd mcpwarden" useradd --system --no-create-home \
		--shell /usr/sbin/nologin mcpwarden
fi

# tests/mcp: install when node_modules is missing or differs from the lock.
MCP="$ROOT/tests/mcp"
if [[ -f $MCP/package.json ]]; then
	stale=1
	if [[ -f $MCP/package-lock.json && -f $MCP/node_modules/.package-lock.json ]]; then
		# The hidden lockfile npm writes into node_modules lists what is
		# installed; it matches the lock's packages minus the root entry.
		if node -e '
			const fs = require("fs");
			const [lockF, hidF, pkgF] = process.argv.slice(1);
			const lock = JSON.parse(fs.readFileSync(lockF, "utf8")).packages || {};
			const hid = JSON.parse(fs.readFileSync(hidF, "utf8")).packages || {};
			const pkg = JSON.parse(fs.readFileSync(pkgF, "utf8"));
			const key = (e) => e ? [e.version, e.resolved, e.integrity, !!e.link].join(" ") : "-";
			const names = new Set([...Object.keys(lock), ...Object.keys(hid)]);
			names.delete("");
			for (const n of names) {
				if (lock[n]?.dev && !hid[n]) continue;
				if (key(lock[n]) !== key(hid[n])) process.exit(1);
			}
			const root = lock[""] || {};
			const canon = (o) => JSON.stringify(Object.entries(o || {}).sort());
			for (const f of ["dependencies", "devDependencies"]) {
				if (canon(pkg[f]) !== canon(root[f])) process.exit(1);
			}
		' "$MCP/package-lock.json" "$MCP/node_modules/.package-lock.json" "$MCP/package.json"; then
			stale=""
		fi
	fi
	if [[ -n $stale ]]; then
		if [[ -f $MCP/package-lock.json ]]; then
			step "npm ci in tests/mcp"
			run "npm ci (tests/mcp)" npm --prefix "$MCP" ci --no-audit --no-fund --loglevel=error
		else
			step "npm install in tests/mcp (no package-lock.json yet)"
			run "npm install (tests/mcp)" npm --prefix "$MCP" install --no-audit --no-fund --loglevel=error
		fi
	fi
fi

if ! awk '$2 == "/sys/fs/bpf" && $3 == "bpf" { found = 1 } END { exit !found }' /proc/mounts; then
	step "mount bpffs at /sys/fs/bpf"
	mkdir -p /sys/fs/bpf
	mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs at /sys/fs/bpf (is this a kernel with CONFIG_BPF_SYSCALL?)"
fi
