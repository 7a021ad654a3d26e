/*
 * isle_services.h: the ABI of isle's system services, each reached through
 * a capability handle. Included by isle.h; docs/ABI.md is the reference.
 */
#ifndef ISLE_SERVICES_H
#define ISLE_SERVICES_H

#ifdef __cplusplus
extern "C" {
#endif

/* Each service adds its section below. */

/* The clock, entropy and the log (docs/ABI.md, "Capabilities"). */
#define ISLE_CLOCK_MONOTONIC 0 /* elapsed time since the node started; needs ISLE_RIGHT_MONOTONIC */
#define ISLE_CLOCK_WALL      1 /* Unix time; needs ISLE_RIGHT_WALL */
/* Writes the reading, in nanoseconds, at out. 0; ISLE_ERIGHTS, ISLE_EREVOKED. */
ISLE_IMPORT("clock_now") int32_t isle_clock_now(isle_handle_t h, uint32_t which, uint64_t *out);
/* Fills buf with entropy, at most 64 KiB a call. 0; ISLE_ETOOBIG, ISLE_EIO. */
ISLE_IMPORT("random_fill") int32_t isle_random_fill(isle_handle_t h, void *buf, size_t len);
/* Writes one record to the node's log at a log/slog level (-4 debug, 0 info,
 * 4 warn, 8 error), at most 16 KiB. 0; ISLE_ETOOBIG. */
ISLE_IMPORT("log_write") int32_t isle_log_write(isle_handle_t h, int32_t level, const char *msg, size_t len);

/* Key-value (docs/ABI.md, "Key-value"): a bucket of the node's durable
 * store. A put returns once it is on stable storage. An empty key is misuse. */
#ifndef ISLE_EIO
#define ISLE_EIO (-9) /* storage or network failure */
#endif
#define ISLE_KV_MAX_KEY   1024      /* bytes; longer is ISLE_ETOOBIG */
#define ISLE_KV_MAX_VALUE (1 << 20) /* bytes; longer is ISLE_ETOOBIG */

/* Copies the value to buf and returns its length; ISLE_ENOTFOUND if there is
 * none. A value longer than a nonzero cap copies nothing and returns
 * ISLE_ETOOBIG; cap 0 copies nothing and returns the length. */
ISLE_IMPORT("kv_get") int32_t isle_kv_get(isle_handle_t h, const void *key, size_t key_len, void *buf, size_t cap);
/* 0 once durable; ISLE_ETOOBIG, ISLE_EIO. Needs ISLE_RIGHT_PUT. */
ISLE_IMPORT("kv_put") int32_t isle_kv_put(isle_handle_t h, const void *key, size_t key_len,
                                          const void *value, size_t value_len);
/* 0 once durable; ISLE_ENOTFOUND if the key was not there. Needs ISLE_RIGHT_REMOVE. */
ISLE_IMPORT("kv_delete") int32_t isle_kv_delete(isle_handle_t h, const void *key, size_t key_len);
/* Writes the keys that start with prefix and sort after `after` (all of them
 * when after_len is 0), in byte order, as packed records {u16 len; key[len]},
 * as many as fit, and returns how many. 0: no more keys. Page on by passing
 * the last key back as `after`. Needs ISLE_RIGHT_LIST. */
ISLE_IMPORT("kv_list") int32_t isle_kv_list(isle_handle_t h, const void *prefix, size_t prefix_len,
                                            const void *after, size_t after_len, void *buf, size_t cap);

/* Reads the kv_list record at *p: sets *key and returns its length, and moves
 * *p to the next record. */
static inline uint32_t isle_kv_record(const uint8_t **p, const uint8_t **key) {
	uint32_t n = (uint32_t)(*p)[0] | (uint32_t)(*p)[1] << 8;
	*key = *p + 2;
	*p += 2 + n;
	return n;
}

/* HTTP (docs/ABI.md, "HTTP"): egress through a capability that allows an
 * allowlist of origins, and ingress as request messages tagged ISLE_TAG_HTTP.
 * Requests and responses use one little-endian, length-prefixed encoding:
 *   request:  str method, str target, u32 n, n x (str name, str value), body
 *   response: u32 status, u32 n, n x (str name, str value), body
 *   str:      u32 length, bytes;  body: the rest of the payload */
#ifndef ISLE_EIO
#define ISLE_EIO (-9) /* storage or network failure */
#endif
#ifndef ISLE_EDENIED
#define ISLE_EDENIED (-10) /* the capability does not allow it: an origin off the list */
#endif
#define ISLE_TAG_HTTP          0x48545450u /* "HTTP": an ingress request, and its reply */
#define ISLE_HTTP_MAX_REQUEST  (16 << 20)  /* bytes of encoded request; more is ISLE_ETOOBIG */
#define ISLE_HTTP_MAX_RESPONSE (16 << 20)  /* bytes of encoded response; more is ISLE_ETOOBIG */

/* What http_request writes at info_ptr. */
typedef struct {
	uint32_t len;    /* the encoded response's length (may exceed the buffer: see isle_msg_read) */
	uint32_t status; /* its HTTP status */
} isle_http_info_t;

/* Sends the encoded request (its target an absolute URL) and copies the
 * encoded response to buf. Returns its length; ISLE_ETOOBIG with info->len
 * set if it is longer than cap (the response is the current message: read
 * the rest with isle_msg_read); ISLE_EDENIED, ISLE_EIO, ISLE_ETIMEOUT,
 * ISLE_ERIGHTS, ISLE_EREVOKED. timeout_ns < 0: the capability's limit. */
ISLE_IMPORT("http_request") int32_t isle_http_request(isle_handle_t h, const void *req, size_t req_len,
                                                      void *buf, size_t cap, int64_t timeout_ns,
                                                      isle_http_info_t *info);

/* Encoding: append to a caller-owned buffer. `over` is set, and nothing more
 * written, once the buffer is full. */
typedef struct {
	uint8_t *p;
	size_t len, cap;
	int over;
} isle_http_buf_t;

static inline void isle_http_put(isle_http_buf_t *b, const void *data, size_t n) {
	if (b->over || n > b->cap - b->len) {
		b->over = 1;
		return;
	}
	if (n) __builtin_memcpy(b->p + b->len, data, n);
	b->len += n;
}

static inline void isle_http_put_u32(isle_http_buf_t *b, uint32_t v) {
	uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	isle_http_put(b, le, 4);
}

static inline void isle_http_put_str(isle_http_buf_t *b, const char *s) {
	size_t n = 0;
	while (s[n]) n++;
	isle_http_put_u32(b, (uint32_t)n);
	isle_http_put(b, s, n);
}

/* A request: begin, then exactly nheaders isle_http_header calls, then the
 * body with isle_http_put. */
static inline void isle_http_begin_request(isle_http_buf_t *b, const char *method, const char *target,
                                           uint32_t nheaders) {
	isle_http_put_str(b, method);
	isle_http_put_str(b, target);
	isle_http_put_u32(b, nheaders);
}

/* A response, the same way. */
static inline void isle_http_begin_response(isle_http_buf_t *b, uint32_t status, uint32_t nheaders) {
	isle_http_put_u32(b, status);
	isle_http_put_u32(b, nheaders);
}

static inline void isle_http_header(isle_http_buf_t *b, const char *name, const char *value) {
	isle_http_put_str(b, name);
	isle_http_put_str(b, value);
}

/* Decoding: read fields in order from an encoded request or response. `bad`
 * is set, and zeros returned, once a read runs past the end. */
typedef struct {
	const uint8_t *p;
	size_t len, off;
	int bad;
} isle_http_reader_t;

static inline uint32_t isle_http_get_u32(isle_http_reader_t *r) {
	if (r->bad || r->len - r->off < 4) {
		r->bad = 1;
		return 0;
	}
	const uint8_t *q = r->p + r->off;
	r->off += 4;
	return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

/* Returns a pointer to the string's bytes (not NUL-terminated) and sets *n. */
static inline const char *isle_http_get_str(isle_http_reader_t *r, uint32_t *n) {
	*n = isle_http_get_u32(r);
	if (r->bad || *n > r->len - r->off) {
		r->bad = 1;
		*n = 0;
		return "";
	}
	const char *s = (const char *)r->p + r->off;
	r->off += *n;
	return s;
}

/* The body: everything after the last header. */
static inline const uint8_t *isle_http_body(isle_http_reader_t *r, size_t *n) {
	*n = r->bad ? 0 : r->len - r->off;
	return r->p + r->off;
}

#ifdef __cplusplus
}
#endif
#endif /* ISLE_SERVICES_H */
