// SPDX-License-Identifier: BSD-2-Clause
#include "jsonrpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "hex.h"
#include "json_parse.h"
#include "json_text.h"

static const char *const message_members[] = {
	"jsonrpc", "id", "method", "params", "result", "error",
};

/* Reasons end up in logs and may quote the peer's bytes (jansson's own
 * messages do), so control characters are blanked out. */
static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	char *p;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (p = err; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
}

static bool short_ascii(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= 40 || (unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* err names the two members when it can; 1, as keys_collide returns. */
static int say_collision(const char *a, const char *b, char *err, size_t errlen)
{
	/* named when short and ASCII: a cut could split a character */
	if (short_ascii(a) && short_ascii(b))
		set_err(err, errlen,
			"members \"%s\" and \"%s\" differ only in case: a "
			"server may read either",
			a, b);
	else
		set_err(err, errlen,
			"two members of an object differ only in case: a "
			"server may read either");
	return 1;
}

/* Small objects of short names (most of every message) are compared
 * pair by pair: no allocation, at most 28 comparisons of 256 bytes. */
#define PAIRWISE_NAMES 8
#define PAIRWISE_NAME_MAX 256

/*
 * Whether object j has two members whose names differ only in case (as
 * mw_json_key_fold_cmpn reads them): the daemon judges one ("name"), a
 * server that matches names without case may act on the other ("Name").
 * 1 when it does (err says which), 0 when not, -1 out of memory.
 */
static int keys_collide(json_t *j, char *err, size_t errlen)
{
	struct mw_json_name small[PAIRWISE_NAMES];
	size_t n = json_object_size(j), i = 0, len;
	struct mw_json_names ns;
	const char *key;
	json_t *v;
	int rc = 0;

	if (n < 2)
		return 0;
	if (n <= PAIRWISE_NAMES) {
		json_object_keylen_foreach(j, key, len, v)
		{
			if (len > PAIRWISE_NAME_MAX)
				break;
			small[i++] =
				(struct mw_json_name){ .s = key, .len = len };
		}
	}
	if (i == n) {
		for (size_t a = 0; a < n; a++)
			for (size_t b = a + 1; b < n; b++)
				if (!mw_json_key_fold_cmpn(
					    small[a].s, small[a].len,
					    small[b].s, small[b].len))
					return say_collision(small[a].s,
							     small[b].s, err,
							     errlen);
		return 0;
	}
	if (mw_json_names_sorted(j, &ns))
		return -1;
	for (i = 1; i < ns.n && !rc; i++)
		if (mw_json_names_fold_alike(&ns, i - 1, i))
			rc = say_collision(ns.v[i - 1].s, ns.v[i].s, err,
					   errlen);
	mw_json_names_free(&ns);
	return rc;
}

/* jansson caps its own recursion at JSON_PARSER_MAX_DEPTH, which bounds this
 * walk's stack too; our lower limit keeps later consumers cheap. */
/*
 * Nesting within MW_RPC_MAX_DEPTH, and no member named "__proto__": a
 * JavaScript server that copies arguments into an object reads that member
 * as the object's prototype, so its fields would reach the tool while a
 * rule's pointer finds nothing there. Nor two members whose names differ
 * only in case (keys_collide).
 */
static bool shape_ok(json_t *j, int depth, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(j) && !json_is_array(j))
		return true;
	if (++depth > MW_RPC_MAX_DEPTH) {
		set_err(err, errlen, "nesting deeper than %d",
			MW_RPC_MAX_DEPTH);
		return false;
	}
	if (json_is_object(j)) {
		switch (keys_collide(j, err, errlen)) {
		case 0:
			break;
		case 1:
			return false;
		default:
			set_err(err, errlen, "out of memory");
			return false;
		}
		json_object_foreach (j, key, v) {
			if (!strcmp(key, "__proto__")) {
				set_err(err, errlen,
					"a member named __proto__ is refused");
				return false;
			}
			if (!shape_ok(v, depth, err, errlen))
				return false;
		}
	} else {
		json_array_foreach (j, i, v) {
			if (!shape_ok(v, depth, err, errlen))
				return false;
		}
	}
	return true;
}

static bool is_message_member(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(message_members) / sizeof(*message_members);
	     i++) {
		if (strcmp(key, message_members[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Integer ids beyond 2^53 are not safe: a JavaScript peer rounds them to
 * a double, so two ids distinct here would be one id there, and responses
 * would pair with the wrong request.
 */
#define MW_RPC_MAX_SAFE_ID ((json_int_t)1 << 53)

static bool is_id(json_t *id)
{
	if (json_is_integer(id))
		return json_integer_value(id) <= MW_RPC_MAX_SAFE_ID &&
		       json_integer_value(id) >= -MW_RPC_MAX_SAFE_ID;
	return json_is_string(id);
}

/* jansson dumps a decoded string one way only, so "\u0061" and "a" give the
 * same text and ids compare with strcmp. */
static char *id_text(json_t *id)
{
	char text[MW_DECIMAL_MAX + 1];

	if (json_is_integer(id)) {
		*mw_put_i64(text, json_integer_value(id)) = '\0';
		return strdup(text);
	}
	return json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
}

/*
 * Whether params (of tools/call or prompts/get) lacks "arguments" but has
 * a member a server that reads names without case takes for it (Go's
 * mcp-go binds "Arguments"): rules would find no arguments where the
 * server finds some. err says which.
 */
static bool arguments_spelled_otherwise(const struct mw_rpc_msg *m,
					const char *where, char *err,
					size_t errlen)
{
	const char *variant;

	if (!json_is_object(m->params) ||
	    json_object_get(m->params, "arguments"))
		return false;
	variant = mw_json_key_variant(m->params, "arguments",
				      strlen("arguments"), NULL);
	if (!variant)
		return false;
	if (short_ascii(variant))
		set_err(err, errlen,
			"%s%s params.%s: a server that reads names without "
			"case takes it for params.arguments",
			where, m->method, variant);
	else
		set_err(err, errlen,
			"%s%s params has a member a server that reads names "
			"without case takes for params.arguments",
			where, m->method);
	return true;
}

static int check_tools_call(struct mw_rpc_msg *m, const char *where, char *err,
			    size_t errlen)
{
	json_t *name, *arguments;

	if (!json_is_object(m->params)) {
		set_err(err, errlen, "%stools/call needs a params object",
			where);
		return -EPROTO;
	}
	name = json_object_get(m->params, "name");
	if (!json_is_string(name)) {
		set_err(err, errlen, "%stools/call needs a string params.name",
			where);
		return -EPROTO;
	}
	/* Argument rules match on an object; any other shape is something
	 * the policy and the server could read differently. */
	arguments = json_object_get(m->params, "arguments");
	if (arguments_spelled_otherwise(m, where, err, errlen))
		return -EPROTO;
	if (arguments && !json_is_object(arguments)) {
		set_err(err, errlen,
			"%stools/call params.arguments must be an object",
			where);
		return -EPROTO;
	}
	m->tool = json_string_value(name);
	m->name = m->tool;
	m->arguments = arguments;
	return 0;
}

/* A character a URI never needs to percent-encode (RFC 3986 unreserved). */
static bool is_unreserved(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* The schemes WHATWG URL parsers (pydantic's) treat as special. */
static bool special_scheme(const char *s, size_t n)
{
	static const char *const names[] = { "http", "https", "ws",
					     "wss",  "ftp",   "file" };

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (strlen(names[i]) == n && !memcmp(s, names[i], n))
			return true;
	return false;
}

/*
 * An IPv6 host ("[...]") as a URL parser writes it: lower-case hex,
 * compressed, never dotted ([::ffff:1.2.3.4] is [::ffff:102:304] to it).
 */
static const char *ipv6_ambiguity(const char *s, size_t n)
{
	char in[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(in))
		return "an IPv6 host that is not one";
	memcpy(in, s + 1, n - 2);
	in[n - 2] = '\0';
	if (inet_pton(AF_INET6, in, &a) != 1)
		return "an IPv6 host that is not one";
	if (strchr(in, '.') || !inet_ntop(AF_INET6, &a, out, sizeof(out)) ||
	    strcmp(in, out))
		return "an IPv6 host a URL parser writes another way";
	return NULL;
}

/*
 * A special scheme's port (p, n: after the ':') as a URL parser writes it:
 * digits without a leading zero, not the scheme's default (dropped).
 */
static const char *port_ambiguity(const char *scheme, size_t slen,
				  const char *p, size_t n)
{
	static const struct {
		const char *scheme;
		unsigned long port;
	} defaults[] = { { "http", 80 },
			 { "ws", 80 },
			 { "https", 443 },
			 { "wss", 443 },
			 { "ftp", 21 } };
	unsigned long v = 0;

	if (!n)
		return "an empty port";
	if (p[0] == '0' && n > 1)
		return "a port with a leading zero";
	for (size_t k = 0; k < n; k++) {
		if (p[k] < '0' || p[k] > '9')
			return "a port that is not a number";
		v = v * 10 + (unsigned long)(p[k] - '0');
		if (v > 65535)
			return "a port out of range";
	}
	for (size_t i = 0; i < sizeof(defaults) / sizeof(*defaults); i++)
		if (strlen(defaults[i].scheme) == slen &&
		    !memcmp(scheme, defaults[i].scheme, slen) &&
		    v == defaults[i].port)
			return "a default port";
	return NULL;
}

/*
 * Whether a special scheme's host (s, n) reads as written: lower case,
 * ASCII, no percent-encoding; a last label that is a number makes it an
 * IPv4 address, which must then be in dotted decimal without leading
 * zeros (0x7f.1 is 127.0.0.1 to a URL parser).
 */
static const char *host_ambiguity(const char *s, size_t n)
{
	size_t last = n, parts = 1, val = 0, len = 0;

	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];

		if (c >= 'A' && c <= 'Z')
			return "an upper-case host";
		if (c == '%' || c >= 0x80)
			return "an encoded or non-ASCII host";
		if (c == '.')
			last = k;
	}
	if (n && s[0] == '[')
		return ipv6_ambiguity(s, n);
	/* a trailing dot ends no label: a URL parser drops it before it
	 * asks whether the last label is a number */
	if (n > 1 && s[n - 1] == '.') {
		size_t b = n - 1;

		while (b > 0 && s[b - 1] != '.')
			b--;
		return s[b] >= '0' && s[b] <= '9'
			       ? "a host a URL parser reads as another "
				 "address"
			       : NULL;
	}
	last = last == n ? 0 : last + 1;
	if (last >= n || s[last] < '0' || s[last] > '9')
		return NULL; /* a name (0x7f starts with a digit too) */
	for (size_t k = 0; k < n; k++) {
		if (s[k] == '.') {
			if (!len || ++parts > 4)
				return "a host a URL parser reads as another "
				       "address";
			len = 0;
			val = 0;
			continue;
		}
		if (s[k] < '0' || s[k] > '9' || (len == 1 && val == 0) ||
		    (val = val * 10 + (size_t)(s[k] - '0')) > 255)
			return "a host a URL parser reads as another address";
		len++;
	}
	return parts == 4 && len
		       ? NULL
		       : "a host a URL parser reads as another address";
}

/*
 * Why a resource URI could be read as another one, or NULL. Servers do
 * not all read a URI as written: the Python SDK parses it as a URL
 * (pydantic's AnyUrl, WHATWG rules) and normalises it, lower-casing the
 * scheme and a special scheme's host, resolving "." and ".." segments and
 * their percent-encoded forms, dropping tabs and trimming spaces, taking
 * '\' for '/', adding the "//" of a special scheme, dropping a default
 * port, file://localhost's host and an empty user info; and a server that
 * unquotes a path reads %65 as e. A policy glob would judge one URI and
 * the server read another, so only URIs with one spelling pass: no white
 * space or control bytes, no '\', percent-encoding only of what needs it
 * (not '.', '/', or a letter or digit) in the path, and a special
 * scheme's URI written as a URL parser writes it.
 */
static const char *uri_ambiguity(const char *s, size_t n)
{
	size_t i = 0, auth_end, seg, path_end;
	bool special, file;

	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];

		if (c <= 0x20 || c == 0x7f)
			return "white space or a control character";
		if (c == '\\')
			return "a backslash";
		if (c == '%' &&
		    (n - k < 3 || mw_hex_value((unsigned char)s[k + 1]) < 0 ||
		     mw_hex_value((unsigned char)s[k + 2]) < 0))
			return "a '%' that is no percent-encoding";
	}
	if (!n || s[0] < 'a' || s[0] > 'z')
		return "no lower-case scheme";
	while (i < n &&
	       ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i == n || s[i] != ':')
		return "no lower-case scheme";
	special = special_scheme(s, i);
	file = i == 4 && !memcmp(s, "file", 4);
	i++;
	auth_end = i;
	if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
		size_t host = i + 2, port = 0;
		const char *why;

		auth_end = host;
		while (auth_end < n && s[auth_end] != '/' &&
		       s[auth_end] != '?' && s[auth_end] != '#') {
			if (s[auth_end] == '@')
				host = auth_end + 1; /* past the user info */
			auth_end++;
		}
		if (special && host > i + 2 &&
		    (host == i + 3 || s[host - 2] == ':'))
			return "an empty user info";
		/* the port's ':' follows the host, an IPv6 host's ']' */
		if (host < auth_end && s[host] == '[') {
			const char *rb = memchr(s + host, ']', auth_end - host);

			port = rb ? (size_t)(rb - s) + 1 : auth_end;
		} else {
			port = host;
			while (port < auth_end && s[port] != ':')
				port++;
		}
		if (port >= auth_end || s[port] != ':')
			port = 0;
		if (file && auth_end > i + 2)
			return "a host in a file URI";
		if (special && (port ? port : auth_end) == host && !file)
			return "an empty host";
		why = special && port ? port_ambiguity(s, i - 1, s + port + 1,
						       auth_end - port - 1)
				      : NULL;
		if (!why && special)
			why = host_ambiguity(s + host,
					     (port ? port : auth_end) - host);
		if (why)
			return why;
	} else if (special) {
		return "no \"//\" after a URL scheme";
	}
	if (file && (auth_end == n || s[auth_end] != '/'))
		return "no path in a file URI";
	path_end = auth_end;
	while (path_end < n && s[path_end] != '?' && s[path_end] != '#')
		path_end++;
	for (size_t k = auth_end; k < path_end; k++) {
		int c;

		if (s[k] != '%')
			continue;
		c = mw_hex_value((unsigned char)s[k + 1]) * 16 +
		    mw_hex_value((unsigned char)s[k + 2]);
		if (is_unreserved(c) || c == '/' || c == '\\')
			return "a percent-encoded '.', '/', '\\', letter or "
			       "digit in the path";
	}
	/* the path's segments: no dot segment, and in a file URI no empty
	 * one (file:////etc is file:///etc) */
	for (seg = auth_end; seg < path_end;) {
		size_t e = seg;

		if (s[seg] == '/')
			seg = ++e;
		while (e < path_end && s[e] != '/')
			e++;
		if ((e - seg == 1 && s[seg] == '.') ||
		    (e - seg == 2 && s[seg] == '.' && s[seg + 1] == '.'))
			return "a '.' or '..' segment";
		if (file && e == seg && e < path_end)
			return "an empty segment in a file URI";
		seg = e;
	}
	return NULL;
}

/*
 * The member that names what prompts/get and the resources methods act on
 * must be a string: policy rules match on it, and Mcp-Name mirrors it. A
 * resource's URI must also read as one URI only (uri_ambiguity).
 */
static int check_named_target(struct mw_rpc_msg *m, const char *where,
			      char *err, size_t errlen)
{
	static const struct {
		const char *method, *member;
	} targets[] = {
		{ "prompts/get", "name" },
		{ "resources/read", "uri" },
		{ "resources/subscribe", "uri" },
		{ "resources/unsubscribe", "uri" },
	};
	json_t *v;

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		if (strcmp(m->method, targets[i].method))
			continue;
		v = json_is_object(m->params)
			    ? json_object_get(m->params, targets[i].member)
			    : NULL;
		if (!json_is_string(v)) {
			set_err(err, errlen, "%s%s needs a string params.%s",
				where, m->method, targets[i].member);
			return -EPROTO;
		}
		if (!strcmp(targets[i].member, "uri")) {
			const char *why = uri_ambiguity(json_string_value(v),
							json_string_length(v));

			if (why) {
				set_err(err, errlen,
					"%s%s: the URI has %s, which servers "
					"read differently",
					where, m->method, why);
				return -EPROTO;
			}
		}
		if (arguments_spelled_otherwise(m, where, err, errlen))
			return -EPROTO;
		m->name = json_string_value(v);
		return 0;
	}
	return 0;
}

static int parse_message(json_t *obj, struct mw_rpc_msg *m, const char *where,
			 char *err, size_t errlen)
{
	json_t *version, *id, *method, *v;
	bool null_id;
	const char *key;
	int ret;

	if (!json_is_object(obj)) {
		set_err(err, errlen, "%smessage is not an object", where);
		return -EPROTO;
	}
	json_object_foreach (obj, key, v) {
		if (!is_message_member(key)) {
			set_err(err, errlen,
				"%smember not defined by JSON-RPC 2.0", where);
			return -EPROTO;
		}
	}
	version = json_object_get(obj, "jsonrpc");
	if (!json_is_string(version) ||
	    strcmp(json_string_value(version), "2.0") != 0) {
		set_err(err, errlen, "%s\"jsonrpc\" must be \"2.0\"", where);
		return -EPROTO;
	}
	id = json_object_get(obj, "id");
	/* JSON-RPC 2.0 section 5: a peer that could not read a request's id
	 * answers with an error whose id is null. Nothing else may be null. */
	null_id = json_is_null(id);
	if (id && !null_id && !is_id(id)) {
		set_err(err, errlen, "%sid must be a string or an integer",
			where);
		return -EPROTO;
	}
	method = json_object_get(obj, "method");
	m->params = json_object_get(obj, "params");
	m->result = json_object_get(obj, "result");
	m->error = json_object_get(obj, "error");

	if (method) {
		if (!json_is_string(method)) {
			set_err(err, errlen, "%smethod must be a string",
				where);
			return -EPROTO;
		}
		if (m->result || m->error) {
			set_err(err, errlen,
				"%smethod mixed with result or error", where);
			return -EPROTO;
		}
		if (m->params && !json_is_object(m->params) &&
		    !json_is_array(m->params)) {
			set_err(err, errlen,
				"%sparams must be an object or an array",
				where);
			return -EPROTO;
		}
		if (null_id) {
			set_err(err, errlen, "%sa request id cannot be null",
				where);
			return -EPROTO;
		}
		m->kind = id ? MW_RPC_REQUEST : MW_RPC_NOTIFICATION;
		m->method = json_string_value(method);
		if (strcmp(m->method, "tools/call") == 0)
			ret = check_tools_call(m, where, err, errlen);
		else
			ret = check_named_target(m, where, err, errlen);
		if (ret)
			return ret;
	} else {
		if (!id) {
			set_err(err, errlen, "%sneither method nor id", where);
			return -EPROTO;
		}
		if (m->params) {
			set_err(err, errlen, "%sresponse with params", where);
			return -EPROTO;
		}
		if (!m->result == !m->error) {
			set_err(err, errlen,
				"%sresponse needs exactly one of result and "
				"error",
				where);
			return -EPROTO;
		}
		if (m->error &&
		    (!json_is_object(m->error) ||
		     !json_is_integer(json_object_get(m->error, "code")) ||
		     !json_is_string(json_object_get(m->error, "message")))) {
			set_err(err, errlen,
				"%serror needs integer code and string message",
				where);
			return -EPROTO;
		}
		if (null_id && !m->error) {
			set_err(err, errlen,
				"%sonly an error response may have a null id",
				where);
			return -EPROTO;
		}
		m->kind = m->result ? MW_RPC_RESULT : MW_RPC_ERROR;
	}

	if (id && !null_id) {
		m->id = id_text(id);
		if (!m->id) {
			set_err(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	m->json = json_incref(obj);
	return 0;
}

int mw_rpc_parse(const char *buf, size_t len, size_t max_len,
		 struct mw_rpc_batch *out, char *err, size_t errlen)
{
	struct mw_rpc_msg *msgs = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	size_t n = 0, i = 0;
	char where[48] = "";
	int ret;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (!buf && len) {
		set_err(err, errlen, "no input");
		return -EINVAL;
	}
	if (len > max_len) {
		set_err(err, errlen, "message of %zu bytes exceeds %zu", len,
			max_len);
		return -EMSGSIZE;
	}

	/* No JSON_DECODE_ANY: only an object or an array is a message.
	 * No JSON_ALLOW_NUL: a NUL would cut strings short in C. Bytes
	 * after the value are refused. */
	root = mw_json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES,
			     &jerr);
	if (!root) {
		set_err(err, errlen, "invalid JSON at offset %d: %s",
			jerr.position, jerr.text);
		ret = -EBADMSG;
		goto fail;
	}
	if (!shape_ok(root, 0, err, errlen)) {
		ret = -EPROTO;
		goto fail;
	}
	if (json_is_array(root)) {
		n = json_array_size(root);
		if (!n) {
			set_err(err, errlen, "empty batch");
			ret = -EPROTO;
			goto fail;
		}
		if (n > MW_RPC_MAX_BATCH) {
			set_err(err, errlen, "batch of %zu exceeds %d", n,
				MW_RPC_MAX_BATCH);
			ret = -EMSGSIZE;
			goto fail;
		}
	} else if (json_is_object(root)) {
		n = 1;
	} else {
		set_err(err, errlen, "not an object or an array");
		ret = -EBADMSG;
		goto fail;
	}

	msgs = calloc(n, sizeof(*msgs));
	if (!msgs) {
		set_err(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < n; i++) {
		if (json_is_array(root))
			snprintf(where, sizeof(where),
				 "batch element %zu: ", i);
		ret = parse_message(
			json_is_array(root) ? json_array_get(root, i) : root,
			&msgs[i], where, err, errlen);
		if (ret)
			goto fail;
	}

	out->msgs = msgs;
	out->n = n;
	out->is_batch = json_is_array(root);
	json_decref(root);
	return 0;

fail:
	while (msgs && i-- > 0) {
		free(msgs[i].id);
		json_decref(msgs[i].json);
	}
	free(msgs);
	json_decref(root);
	return ret;
}

void mw_rpc_batch_free(struct mw_rpc_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->msgs[i].id);
		json_decref(b->msgs[i].json);
	}
	free(b->msgs);
	memset(b, 0, sizeof(*b));
}

bool mw_rpc_id_equal(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

char *mw_rpc_error_body(const char *id_json, int code, const char *message)
{
	json_t *body = NULL, *id = NULL, *error = NULL;
	char *text = NULL;

	if (!message)
		return NULL;
	if (id_json) {
		id = json_loads(id_json, JSON_DECODE_ANY, NULL);
		if (!is_id(id))
			goto out;
	} else {
		id = json_null();
	}
	error = json_object();
	body = json_object();
	if (!error || !body)
		goto out;
	/* The _new setters consume their value even when they fail. */
	if (json_object_set_new(error, "code", json_integer(code)) ||
	    json_object_set_new(error, "message", json_string(message)))
		goto out;
	if (json_object_set_new(body, "jsonrpc", json_string("2.0")))
		goto out;
	if (json_object_set_new(body, "id", id)) {
		id = NULL;
		goto out;
	}
	id = NULL;
	if (json_object_set_new(body, "error", error)) {
		error = NULL;
		goto out;
	}
	error = NULL;
	text = json_dumps(body, JSON_COMPACT);
out:
	json_decref(id);
	json_decref(error);
	json_decref(body);
	return text;
}

const char *mw_rpc_kind_name(enum mw_rpc_kind kind)
{
	switch (kind) {
	case MW_RPC_REQUEST:
		return "request";
	case MW_RPC_NOTIFICATION:
		return "notification";
	case MW_RPC_RESULT:
		return "result";
	case MW_RPC_ERROR:
		return "error";
	}
	return "unknown";
}

/*
 * The length of the white space at s (at most n bytes long) that some
 * reader trims before parsing: JSON's, VT and FF, and Unicode's
 * White_Space in UTF-8 (Go's strings.TrimSpace, JavaScript's trim(),
 * which takes U+FEFF too); 0 for anything else.
 */
static size_t trimmed_space_at(const unsigned char *s, size_t n)
{
	if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
		return 1;
	if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
		return 2;
	if (n < 3)
		return 0;
	if ((s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) ||
	    (s[0] == 0xe2 && s[1] == 0x80 &&
	     (s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf)) ||
	    (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) ||
	    (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) ||
	    (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf))
		return 3;
	return 0;
}

bool mw_rpc_looks_like_no_json(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0, k;

	/* a reader that trims more than JSON's white space before parsing
	 * would find the message behind it */
	while (i < len && (k = trimmed_space_at(s + i, len - i)))
		i += k;
	return i == len || (buf[i] != '{' && buf[i] != '[');
}

/* Whether object o has a member whose name folds to a JSON-RPC member's. */
static bool names_a_message_member(json_t *o)
{
	const char *key;
	size_t len;
	json_t *v;

	json_object_keylen_foreach(o, key, len, v)
	{
		for (size_t i = 0;
		     i < sizeof(message_members) / sizeof(*message_members);
		     i++)
			if (!mw_json_key_fold_cmpn(key, len, message_members[i],
						   strlen(message_members[i])))
				return true;
	}
	return false;
}

bool mw_rpc_reads_as_no_message(const char *buf, size_t len)
{
	json_t *root, *v;
	bool none = true;
	size_t i;

	if (mw_rpc_looks_like_no_json(buf, len))
		return true;
	root = mw_json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return false;
	if (json_is_object(root)) {
		none = !names_a_message_member(root);
	} else {
		json_array_foreach (root, i, v) {
			if (json_is_object(v) && names_a_message_member(v)) {
				none = false;
				break;
			}
		}
	}
	json_decref(root);
	return none;
}
