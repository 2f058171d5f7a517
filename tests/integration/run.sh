#!/bin/bash
# Integration tests: real eBPF, PostgreSQL and MCP peers. Run as root.
# Usage: tests/integration/run.sh BUILD_DIR   (e.g. build or build-asan)
# A missing kernel feature is an error, not a skip: these tests are the
# product's evidence that enforcement works on this host.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

die() {
	echo "integration: ERROR: $*" >&2
	exit 1
}

[[ $# -eq 1 ]] || die "usage: $0 BUILD_DIR"
export MW_BUILD=$1

[[ $(id -u) -eq 0 ]] || die "must run as root (eBPF, cgroups, PostgreSQL as user mcpwarden)"
grep -qw cgroup2 /proc/mounts || die "no cgroup v2 filesystem mounted (see /proc/mounts)"
[[ -r /sys/kernel/btf/vmlinux ]] || die "no kernel BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load"
awk '$2 == "/sys/fs/bpf" && $3 == "bpf" { f = 1 } END { exit !f }' /proc/mounts ||
	die "bpffs is not mounted at /sys/fs/bpf (scripts/deps.sh mounts it)"
[[ -d tests/mcp/node_modules/@modelcontextprotocol/sdk ]] ||
	die "tests/mcp/node_modules is missing (scripts/deps.sh installs it)"
id -u mcpwarden >/dev/null 2>&1 || die "no user mcpwarden (scripts/deps.sh creates it)"

exec node --test --test-concurrency=1 tests/integration/*.test.mjs
