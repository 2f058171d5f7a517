/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The evidence package (`mcpwarden evidence export`): a directory an
 * auditor takes away and checks without the database. This module writes
 * it from values it is given (rows of mcpwarden.chain_events as COPY
 * decodes them, the checkpoint file, the public key); the CLI does the
 * database reading. FORMAT.md (mw_evidence_format_md, written into every
 * package) is the format's reference.
 *
 * Use: mw_evidence_open (DIR must not exist or be empty);
 * mw_evidence_public_key_file; mw_evidence_add_host for every host with
 * events in the window; mw_evidence_context_row for the policy_loaded and
 * daemon_start events in force at --since (before the window);
 * mw_evidence_events_begin, mw_evidence_event for every exported row
 * (each host's rows in seq order, hosts one after the other),
 * mw_evidence_events_end; mw_evidence_checkpoint_file; mw_evidence_finish,
 * which writes the rest, verifies the package as `audit verify --package`
 * does and writes the manifest last. mw_evidence_free removes what was
 * written unless mw_evidence_finish succeeded.
 *
 * Every file is written to a temporary name (O_EXCL, 0644), synced and
 * renamed without replacing anything; manifest.sha256 comes last, so a
 * directory without it is not a package. Events stream to disk: memory
 * grows with the number of hosts and of policy_loaded/daemon_start events
 * (both bounded), never with the number of events.
 */
#ifndef MW_EVIDENCE_H
#define MW_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "chain.h"

#define MW_EVIDENCE_FORMAT_VERSION 1

/* The files of a package (FORMAT.md says what each holds). */
#define MW_EVIDENCE_EVENTS "events.jsonl"
#define MW_EVIDENCE_CHECKPOINTS "checkpoints.jsonl"
#define MW_EVIDENCE_PUBKEY "public-key.pem"
#define MW_EVIDENCE_POLICY_DIR "policies"
#define MW_EVIDENCE_POLICIES "policies.json"
#define MW_EVIDENCE_MASKING "masking.json"
#define MW_EVIDENCE_NIST_MD "nist-800-53.md"
#define MW_EVIDENCE_NIST_JSON "nist-800-53.json"
#define MW_EVIDENCE_FORMAT "FORMAT.md"
#define MW_EVIDENCE_VERIFY_JSON "verification.json"
#define MW_EVIDENCE_VERIFY_TXT "verification.txt"
#define MW_EVIDENCE_MANIFEST "manifest.json"
#define MW_EVIDENCE_MANIFEST_SHA "manifest.sha256"

/* Bounds: hosts as the verifier's; events listed in the manifest and
 * policies.json (a window with more is refused: export a shorter one). */
#define MW_EVIDENCE_MAX_HOSTS 16384
#define MW_EVIDENCE_MAX_LISTED 16384
#define MW_EVIDENCE_NAME_MAX 96 /* a file name inside the package */

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" and the NUL, with room to spare. */
#define MW_EVIDENCE_TIME_LEN 40

/* ---- time arguments ---- */

/*
 * An ISO 8601 date or timestamp as microseconds since the Unix epoch:
 *   YYYY-MM-DD                     midnight UTC starting that day
 *   YYYY-MM-DDTHH:MM[:SS[.f]][Z]   UTC ('T' or one space; f: 1 to 6
 *                                  digits)
 *   ... with +HH:MM, +HHMM or +HH  (or -) instead of Z: that offset
 * Anything else is refused with a reason: other ISO forms (week, ordinal,
 * basic dates), a fraction finer than microseconds (the trail records no
 * finer), leap seconds and 24:00 (Unix time has no name for them),
 * impossible dates, surrounding spaces. Years 0001 to 9999.
 */
int mw_evidence_parse_time(const char *s, int64_t *us, char *err,
			   size_t errlen);
/* us as "YYYY-MM-DDTHH:MM:SS.ffffffZ"; 0, or -1 when out of range. */
int mw_evidence_format_time(int64_t us, char out[MW_EVIDENCE_TIME_LEN]);

/* ---- pieces, on their own for tests ---- */

/*
 * One events.jsonl line (with its newline) for a row: f holds the
 * MW_CF_N fields then the hash, as COPY decodes them. The keys are
 * mw_chain_field_names then "hash", each value the column text as a JSON
 * string or null. *line is malloc'd. -1 with err when a value is not
 * UTF-8 (JSON cannot carry it) or the line would be longer than the
 * verifier reads (MW_PGCOPY_MAX_LINE): the row cannot be exported; -2
 * with err out of memory.
 */
int mw_evidence_event_line(const struct mw_chain_value f[MW_CF_N + 1],
			   char **line, size_t *len, char *err, size_t errlen);

/*
 * "policies/<sha256>.yaml" (the policy's text) or ".txt" (why there is no
 * text). -1 when sha256 is not 64 lowercase hex digits: a recorded value
 * never becomes a path otherwise.
 */
int mw_evidence_policy_file_name(const char *sha256, bool text, char *out,
				 size_t outlen);

/*
 * masking.json: the masking rules in force with each policy_loaded event
 * considered (in_force: [{host, seq, loaded_at, in_force, masking}]).
 */
json_t *mw_evidence_masking_json(const json_t *in_force);
/* The NIST SP 800-53 mapping, as JSON and as Markdown. */
json_t *mw_evidence_nist_json(void);
int mw_evidence_nist_md(FILE *f);
/* FORMAT.md, written into every package byte for byte. */
extern const char mw_evidence_format_md[];

/* ---- the package ---- */

struct mw_evidence;

struct mw_evidence_request {
	int64_t since_us, until_us; /* the window asked for, until excluded */
	const char *host; /* --host, or NULL for every host */
	int64_t created_us; /* when the export ran */
};

/*
 * Creates dir (0755; its parent must exist) or takes an existing empty
 * directory (made 0755). -1 with err when dir holds anything.
 */
int mw_evidence_open(struct mw_evidence **out, const char *dir,
		     const struct mw_evidence_request *req, char *err,
		     size_t errlen);
/* Frees e; unless mw_evidence_finish succeeded, removes what it wrote
 * (and dir, when it made it). */
void mw_evidence_free(struct mw_evidence *e);

/* Writes name (a package file name) whole, crash-safely. */
int mw_evidence_write_file(struct mw_evidence *e, const char *name,
			   const void *data, size_t len, char *err,
			   size_t errlen);

/* Copies the daemon's public key (PEM) into the package: it must load. */
int mw_evidence_public_key_file(struct mw_evidence *e, const char *path,
				char *err, size_t errlen);
const char *mw_evidence_key_id(const struct mw_evidence *e);

/* One host of the window, as the database summarised it. */
struct mw_evidence_host_window {
	const char *host;
	uint64_t first_seq, last_seq; /* of the events in the window */
	uint64_t events; /* in the window */
	uint64_t checkpoint_seq; /* the first checkpoint event after
				    last_seq, 0 when there is none yet */
	/* Where the export starts (0: first_seq): the event that the last
	 * checkpoint event before first_seq signed, or the host's first
	 * event when there is none. Deleting the window's first events then
	 * leaves a gap after a signed event, which the verifier names. */
	uint64_t anchor_seq;
};

/* A checkpoint-file line this much older than the export, for a seq beyond
 * what the database holds, is evidence of a deleted tail (a younger one
 * may be an event the database has not committed yet). */
#define MW_EVIDENCE_CP_GRACE_US (60ll * 1000000)

/* The seqs to export: anchor_seq to checkpoint_seq (or last_seq). */
int mw_evidence_add_host(struct mw_evidence *e,
			 const struct mw_evidence_host_window *w, char *err,
			 size_t errlen);

/*
 * A policy_loaded or daemon_start event from before the window (the last
 * of each kind before its host's first exported seq): what was in force at
 * --since. Not in events.jsonl: listed in policies.json and the manifest
 * as outside the exported chain.
 */
int mw_evidence_context_row(struct mw_evidence *e,
			    const struct mw_chain_value f[MW_CF_N + 1],
			    char *err, size_t errlen);

int mw_evidence_events_begin(struct mw_evidence *e, char *err, size_t errlen);
/* One exported row (a host added with mw_evidence_add_host); one the
 * package cannot hold is left out (mw_evidence_event_left_out). */
int mw_evidence_event(struct mw_evidence *e,
		      const struct mw_chain_value f[MW_CF_N + 1], char *err,
		      size_t errlen);
/*
 * A row the package cannot hold (its line would be longer than the
 * verifier reads, or a value JSON cannot carry; mw_evidence_event calls
 * it): left out of events.jsonl but kept in its host's range, so that the
 * verifier names its seq as missing, and noted with why (ASCII). host and
 * seq as COPY decoded them. -1 with err when its seq cannot be read.
 */
int mw_evidence_event_left_out(struct mw_evidence *e,
			       const struct mw_chain_value *host,
			       const struct mw_chain_value *seq,
			       const char *why, char *err, size_t errlen);
int mw_evidence_events_end(struct mw_evidence *e, char *err, size_t errlen);

/*
 * checkpoints.jsonl: the lines of the checkpoint file at path whose host
 * and seq fall in an exported range, byte for byte. A missing file gives
 * an empty checkpoints.jsonl and a note in the manifest and the report.
 */
int mw_evidence_checkpoint_file(struct mw_evidence *e, const char *path,
				char *err, size_t errlen);

/*
 * Writes policies.json, masking.json, the NIST mapping, FORMAT.md, runs
 * the verifier over the package (verification.json and .txt), then
 * manifest.json and manifest.sha256. *verified: no break found. -1 with
 * err when the package could not be completed.
 */
int mw_evidence_finish(struct mw_evidence *e, bool *verified, char *err,
		       size_t errlen);

/* ---- verifying a package ---- */

struct mw_verify;

/*
 * `audit verify --package DIR` (FORMAT.md sections 1 and 6), into v made
 * with the key to check with: manifest.sha256 must name manifest.json's
 * SHA-256, and manifest.json list every other file of DIR with its SHA-256
 * and size, and nothing else be there (what does not hold is a package
 * problem in v's report); each host's events must be the range the
 * manifest gives (mw_verify_expect_range); then checkpoints.jsonl (the
 * package's own lines), extra_cps (a copy of the daemon's checkpoint file,
 * when not NULL) and events.jsonl. The caller runs mw_verify_finish. -1
 * with err when the package cannot be read (a file of it missing or not a
 * regular file).
 */
int mw_evidence_verify_dir(struct mw_verify *v, const char *dir,
			   const char *extra_cps, char *err, size_t errlen);

/* After mw_evidence_finish: what was exported, then the verifier's
 * report and the export's notes (verification.txt). */
void mw_evidence_print_summary(const struct mw_evidence *e, FILE *f);

#endif
