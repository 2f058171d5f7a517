/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The audit trail verifier (`mcpwarden audit verify`): checks the hash
 * chain of every host (chain.h), the signed checkpoints recorded in it and
 * those of the checkpoint file kept outside the database, and says where
 * and how a chain is broken.
 *
 * Use: mw_verify_new; the file checkpoints (mw_verify_load_checkpoints,
 * mw_verify_checkpoint_line or mw_verify_add_checkpoint), all of them
 * before the first row; then the rows in the order of
 *   ORDER BY host, seq, ts_us
 * (mw_verify_row, mw_verify_copy_line for COPY text, mw_verify_jsonl_line
 * or mw_verify_load_jsonl for an evidence package); mw_verify_finish; the
 * results (mw_verify_host_at, mw_verify_print, mw_verify_json). Rows are
 * streamed: memory grows with the number of hosts and file checkpoints,
 * never with the number of events.
 *
 * What a row must satisfy: its stored hash is mw_chain_hash of its fields;
 * seqs of a host run 1, 2, 3, ... without gap nor repeat; prev_hash is the
 * hash of the event before (MW_CHAIN_GENESIS before seq 1); a chain whose
 * first event is later than seq 1 lost its beginning to retention (noted,
 * not a break). A checkpoint event at seq K has params
 *   {"seq": K-1, "hash": <hash of K-1>, "key_id": .., "signature": ..}
 * signed (sign.h) over mw_chain_checkpoint_message(host, K-1, hash), and
 * that hash must be the recomputed hash of event K-1. A file checkpoint
 * (one JSON line: host, seq, hash, key_id, signature, and optionally
 * checkpoint_seq and ts_us; other keys are ignored) must be validly signed
 * and its host's chain must hold event seq with that recomputed hash.
 *
 * Breaks (enum mw_verify_class), each named by the seq of the first event
 * concerned; per host, the first break is the one of the lowest seq:
 *  - modified: the content does not hash to the stored hash, and no
 *    nearby seq explains it.
 *  - reordered: such a mismatch where ts_us goes back from the previous
 *    event; a row whose content verifies with seq + d (d = 1..16) followed
 *    within 16 seqs by one verifying with a lower seq (events swapped);
 *    a seq lower than the one before (host or rows out of order).
 *  - deleted: a seq gap (the missing range); rows verifying with seq + d
 *    that nothing compensates (d events deleted, the rest renumbered
 *    down); file checkpoints beyond the last event (the tail deleted);
 *    in a package, a line of its own checkpoints.jsonl before the host's
 *    first event, and events missing at either end of the range its
 *    manifest gives (mw_verify_package_lines, mw_verify_expect_range).
 *  - inserted: a repeated seq; a row whose own hash checks but whose
 *    prev_hash does not link to the event before; rows verifying with
 *    seq - d (d events inserted before them, the rest renumbered up: the
 *    break names the first inserted seq); in a package, events beyond
 *    its manifest's range, or of a host it does not list.
 *  - rewritten: the chain links, but a checkpoint signed another hash for
 *    its seq (the chain was recomputed): the range from the event after
 *    the last matching checkpoint to the checkpoint's seq. A break before
 *    it changes no later recomputed hash, each being computed from its
 *    row's stored prev_hash, so a mismatch after one is a rewrite all
 *    the same. A checkpoint vouches for the events before its seq only
 *    through a row at that seq with the signed hash whose prev_hash is
 *    the recomputed hash of the event before: when the row there is
 *    itself a break (modified, malformed, repeated, not linking) or is
 *    missing (a seq gap, a file checkpoint the chain lacks), that
 *    break is named, and so are the events since the last matching
 *    checkpoint up to the one before it, as rewritten, since a rewriter
 *    who kept the signed row's stored hash leaves just that.
 *  - bad_signature: a checkpoint not validly signed by the key, or signed
 *    by another key.
 *  - missing_checkpoint: a file checkpoint for an event the database does
 *    not hold (inside the chain's range).
 *  - malformed: a value the writer cannot have produced (seq not a
 *    positive integer, a hash not 64 lowercase hex digits, ts_us not an
 *    integer, host or kind NULL, checkpoint params not as above), and
 *    lines of the inputs that cannot be parsed.
 * Rows that name no usable host go to a host entry of their own, with
 * invalid set. What is wrong with a package as a whole (its manifest, its
 * files) is a package problem (mw_verify_package_problem), counted among
 * the breaks.
 */
#ifndef MW_VERIFY_H
#define MW_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "chain.h"
#include "digest.h"
#include "sign.h"

#define MW_VERIFY_HOST_MAX 256 /* bytes of a host name and the NUL */
#define MW_VERIFY_MAX_HOSTS 16384
#define MW_VERIFY_MAX_DETAILS 5 /* breaks described per host */
#define MW_VERIFY_DETAIL_LEN 224
#define MW_VERIFY_SHIFT_MAX 16 /* seq +- 1..16 tried on a mismatch */
/* The checkpoint file: bounded per line and in all. */
#define MW_VERIFY_CP_LINE_MAX 4096
#define MW_VERIFY_CP_FILE_MAX (64u << 20)

enum mw_verify_class {
	MW_VB_MODIFIED,
	MW_VB_REORDERED,
	MW_VB_DELETED,
	MW_VB_INSERTED,
	MW_VB_REWRITTEN,
	MW_VB_BAD_SIGNATURE,
	MW_VB_MISSING_CHECKPOINT,
	MW_VB_MALFORMED,
	MW_VB_N
};

struct mw_verify_break {
	enum mw_verify_class cls;
	uint64_t seq, seq_end; /* the events concerned; 0 when unknown */
	char detail[MW_VERIFY_DETAIL_LEN];
};

/* What was found for one host. */
struct mw_verify_host {
	char name[MW_VERIFY_HOST_MAX]; /* NUL-free bytes, not escaped */
	bool invalid; /* the entry of rows and lines without a usable host */
	uint64_t events; /* rows read */
	uint64_t first_seq, last_seq; /* 0 when none */
	bool starts_late; /* first_seq > 1: retention dropped the start */
	uint64_t db_cp_ok, db_cp_failed; /* checkpoint events */
	uint64_t file_cp_ok, file_cp_failed;
	uint64_t file_cp_retention; /* file checkpoints before first_seq */
	/* in a package, lines of a checkpoint file given besides its own
	 * that vouch for events outside the manifest's range of the host
	 * (or for a host it does not list): not checked */
	uint64_t file_cp_outside;
	/*
	 * Daemon starts after events no checkpoint of the run that wrote
	 * them signed (it ended without its closing one: a crash; or they
	 * were added while no daemon ran): the started run's first
	 * checkpoint signs them. How many starts, how many such events, and
	 * the first (events from..to, the start at start_seq). Not a break.
	 */
	uint64_t unsigned_starts, unsigned_events;
	uint64_t unsigned_from, unsigned_to, unsigned_start_seq;
	uint64_t breaks; /* all of them, by class in by_class */
	uint64_t by_class[MW_VB_N];
	/* the breaks of the lowest seqs, in seq order: details[0] is the
	 * first broken event */
	size_t ndetails;
	struct mw_verify_break details[MW_VERIFY_MAX_DETAILS];
};

/* A line of the checkpoint file, parsed. */
struct mw_verify_cp {
	char host[MW_VERIFY_HOST_MAX];
	uint64_t seq;
	char hash[MW_CHAIN_HASH_HEX];
	char key_id[MW_SIGN_KEY_ID_LEN];
	char signature[MW_SIGN_B64_LEN];
	uint64_t checkpoint_seq; /* 0 when absent */
	int64_t ts_us; /* 0 when absent */
};

struct mw_verify;

/* A verifier checking signatures with pub (borrowed: must outlive it). */
int mw_verify_new(struct mw_verify **out, const struct mw_sign_pub *pub,
		  char *err, size_t errlen);
void mw_verify_free(struct mw_verify *v);

/* ---- file checkpoints: before the first row ---- */

/*
 * Parses one line of the checkpoint file (at most MW_VERIFY_CP_LINE_MAX
 * bytes, an optional trailing newline). 0, or -1 with err.
 */
int mw_verify_parse_checkpoint(const char *line, size_t len,
			       struct mw_verify_cp *out, char *err,
			       size_t errlen);
/*
 * Adds a file checkpoint: its signature is checked now (a bad one is a
 * break of its host at cp->seq). -1 with err only when the verifier
 * cannot go on (rows were given already, out of memory, too many hosts).
 */
int mw_verify_add_checkpoint(struct mw_verify *v, const struct mw_verify_cp *cp,
			     char *err, size_t errlen);
/*
 * One line of the checkpoint file (lineno for messages): an unparsable
 * line is a malformed break; blank lines are skipped. -1 as above.
 */
int mw_verify_checkpoint_line(struct mw_verify *v, const char *line, size_t len,
			      uint64_t lineno, char *err, size_t errlen);
/*
 * Reads a checkpoint file, keeping only the lines of host when host is
 * not NULL (other hosts' lines are not even parsed as far as the host
 * can be told). -1 with err when it cannot be read, is not a regular file
 * (a FIFO, a device) or is larger than MW_VERIFY_CP_FILE_MAX (errno ENOENT
 * when it does not exist); lines over
 * MW_VERIFY_CP_LINE_MAX are malformed breaks.
 */
int mw_verify_load_checkpoints(struct mw_verify *v, const char *path,
			       const char *host, char *err, size_t errlen);

/* The SHA-256 (hex) and size of the bytes a loader read. */
struct mw_verify_digest {
	char sha256[MW_SHA256_HEX];
	uint64_t bytes;
};
/*
 * A package's checkpoints.jsonl from fd, open already (name for
 * messages): read from fd's offset (through a copy of it, fd stays the
 * caller's) to its end, all of its lines. d, when not NULL, gets the
 * SHA-256 and size of exactly the bytes parsed: what is compared with the
 * manifest is what was verified, not a file reopened by its name, which
 * someone may have replaced in between. -1 with err as
 * mw_verify_load_checkpoints.
 */
int mw_verify_load_checkpoints_fd(struct mw_verify *v, int fd, const char *name,
				  struct mw_verify_digest *d, char *err,
				  size_t errlen);

/* ---- rows ---- */

/*
 * One event: f in enum mw_chain_field order, hash the stored hash column.
 * Values are copied as needed. Breaks are recorded, not returned: -1 with
 * err only when the verifier cannot go on (out of memory, more than
 * MW_VERIFY_MAX_HOSTS hosts, the digest failing).
 */
int mw_verify_row(struct mw_verify *v, const struct mw_chain_value f[MW_CF_N],
		  const struct mw_chain_value *hash, char *err, size_t errlen);

/*
 * One line of COPY text (pgcopy.h) with the MW_CF_N columns then hash,
 * decoded in place. -1 with err when it does not parse (the query and
 * the view disagree: nothing can be verified) or as mw_verify_row.
 */
int mw_verify_copy_line(struct mw_verify *v, char *line, size_t len, char *err,
			size_t errlen);

/*
 * One events.jsonl line of an evidence package: a JSON object whose keys
 * are exactly the mw_chain_field_names and "hash" (a missing, repeated or
 * unknown key is refused: everything a package shows is covered by the
 * verification), each value a string holding the exact column text or
 * null. f and hash point into *root, which the caller json_decref()s.
 */
int mw_verify_parse_jsonl(const char *line, size_t len, json_t **root,
			  struct mw_chain_value f[MW_CF_N],
			  struct mw_chain_value *hash, char *err,
			  size_t errlen);
/*
 * One events.jsonl line into the verifier: an unparsable line is a
 * malformed break (lineno in its detail); blank lines are skipped.
 */
int mw_verify_jsonl_line(struct mw_verify *v, char *line, size_t len,
			 uint64_t lineno, char *err, size_t errlen);
/* Reads events.jsonl: -1 with err when it cannot be read, or is not a
 * regular file (a FIFO, a device, a symbolic link). */
int mw_verify_load_jsonl(struct mw_verify *v, const char *path, char *err,
			 size_t errlen);
/* events.jsonl from fd, d as mw_verify_load_checkpoints_fd. */
int mw_verify_load_jsonl_fd(struct mw_verify *v, int fd, const char *name,
			    struct mw_verify_digest *d, char *err,
			    size_t errlen);

/*
 * The checkpoint file of the daemon that writes host's chain is not there.
 * The daemon creates it at start and appends every checkpoint it writes to
 * the database, so host's chain with checkpoint events but no file has
 * lost its outside copy: a break. Other hosts' chains are not concerned.
 * Before mw_verify_finish.
 */
void mw_verify_checkpoint_file_missing(struct mw_verify *v, const char *host);

/* Days since 1970 (UTC), lo included, hi not: a partition's range. */
struct mw_verify_days {
	int64_t lo, hi;
};
#define MW_VERIFY_MAX_PARTITIONS 100000 /* 270 years of daily ones */
#define MW_VERIFY_MAX_DEFAULT_DAYS (1u << 20) /* of the default partition */
#define MW_VERIFY_NO_DAILY INT64_MAX /* no daily partition is left */

/*
 * The rows are whole chains (the database's), not a window of them (a
 * package's), and kept[0..n) are the ranges of days whose partitions the
 * database still holds (in any order, overlapping or not; at most
 * MW_VERIFY_MAX_PARTITIONS); undropped_from is the earliest day a daily
 * partition left is named for (MW_VERIFY_NO_DAILY: none). A chain that
 * starts late was cut by retention, which drops the daily partitions
 * named for the days before a cutoff, and nothing else; a file checkpoint
 * from before its start made on a day retention cannot have dropped shows
 * a deletion: a day a partition still holds, one from undropped_from on,
 * or one of rows in the default partition (rows of the chains read that
 * no range holds). Before the rows. 0, or -1 with err (out of memory, too
 * many ranges).
 */
int mw_verify_whole_chains(struct mw_verify *v,
			   const struct mw_verify_days *kept, size_t n,
			   int64_t undropped_from, char *err, size_t errlen);

/* ---- evidence packages (FORMAT.md section 6) ---- */

/*
 * own: the file checkpoints added from now on are a package's own
 * checkpoints.jsonl, which the export writes only for events it holds: one
 * before its host's first event in the package shows events deleted from
 * the package's start (not retention, as a line of the daemon's file or of
 * a copy given with it is). Once a range is given, lines that are not the
 * package's own and vouch for an event outside the range of their host,
 * or for a host without a range, are counted in file_cp_outside and not
 * checked: such a copy holds the daemon's whole file.
 */
void mw_verify_package_lines(struct mw_verify *v, bool own);
/*
 * The package's manifest says it holds host's events first_seq to
 * last_seq. At the end, events missing at either end are deleted, events
 * beyond them inserted; once a range is given, a host with events but no
 * range is a break too. Before the rows. -1 with err only when the
 * verifier cannot go on (as mw_verify_add_checkpoint); a range that
 * cannot be one is a package problem.
 */
int mw_verify_expect_range(struct mw_verify *v, const char *host,
			   uint64_t first_seq, uint64_t last_seq, char *err,
			   size_t errlen);
/*
 * The package's manifest lists its hosts' ranges, none perhaps (an empty
 * list, or hosts of which no seq could be read): a host with events but
 * no range is a break all the same. Before the rows.
 */
void mw_verify_ranges_given(struct mw_verify *v);
/*
 * What is wrong with a package as a whole (a file missing, changed or
 * added, a manifest that does not check): counted among the breaks,
 * reported apart from the hosts. fmt's text must be ASCII.
 */
__attribute__((format(printf, 2, 3))) void
mw_verify_package_problem(struct mw_verify *v, const char *fmt, ...);
/*
 * What is wrong with a database as a whole (what auditors read is not as
 * mcpwarden defined it, see mw_schema_check): as a package problem. arg
 * is the struct mw_verify, so that it serves as an mw_schema_problem_fn.
 */
__attribute__((format(printf, 2, 3))) void
mw_verify_database_problem(void *arg, const char *fmt, ...);

/* Ends the input: the checks that need the end of each chain. */
void mw_verify_finish(struct mw_verify *v);

/*
 * Bytes from the trail as printable ASCII, for text read on a terminal:
 * others (escape sequences, \, non-ASCII) as \xHH, values longer than
 * max bytes cut with "...", NULL (SQL NULL) as "NULL". Returns out.
 * MW_VERIFY_NAME_ESC holds a host name whole.
 */
#define MW_VERIFY_NAME_ESC (MW_VERIFY_HOST_MAX * 4 + 8)
const char *mw_verify_escape(const char *s, size_t n, size_t max, char *out,
			     size_t outlen);

/* ---- results, after mw_verify_finish ---- */

const char *mw_verify_class_name(enum mw_verify_class c);
const char *mw_verify_key_id(const struct mw_verify *v);
/* True when every host verified: no break anywhere. */
bool mw_verify_ok(const struct mw_verify *v);
uint64_t mw_verify_breaks(const struct mw_verify *v);
/* Hosts sorted by name, the invalid entry (if any) last. */
size_t mw_verify_nhosts(const struct mw_verify *v);
const struct mw_verify_host *mw_verify_host_at(const struct mw_verify *v,
					       size_t i);
const struct mw_verify_host *mw_verify_find_host(const struct mw_verify *v,
						 const char *name);

/* The human report (format in verify.c) and the JSON one. */
void mw_verify_print(const struct mw_verify *v, FILE *f);
json_t *mw_verify_json(const struct mw_verify *v);

#endif
