// httpfn.c: a C reactor deployed as an HTTP function. It answers every
// ISLE_TAG_HTTP request by path:
//   /die         traps, abandoning the process (its clients get 502)
//   /slow        waits two seconds before answering (for a 504)
//   /hang        never answers: only a kill ends the wait
//   /status/NNN  answers with status NNN and no body
//   /big         answers with 300,000 bytes, byte i being i % 251
//   /sum         answers "LEN SUM": the body's length and byte sum
//   anything else: 200 (201 for POST), "hello " + the request body, and
//   headers describing the request: X-Method, X-Target, X-Host, one
//   X-Echo-Back per X-Echo received, X-Count (requests so far), and a
//   Transfer-Encoding the host must drop.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c httpfn.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle.h"

static uint8_t inbox[64 << 10];
static uint8_t big[(1 << 20) + (64 << 10)];
static uint8_t out[(1 << 20) + (64 << 10)];
static uint32_t count;

__attribute__((constructor)) static void init(void) { isle_inbox(inbox, sizeof inbox); }

static int eq(const char *s, uint32_t n, const char *lit) { return n == strlen(lit) && memcmp(s, lit, n) == 0; }

static int prefix(const char *s, uint32_t n, const char *lit) {
	return n >= strlen(lit) && memcmp(s, lit, strlen(lit)) == 0;
}

// put_n appends a header whose value is n bytes at v.
static void header_n(isle_http_buf_t *b, const char *name, const char *v, uint32_t n) {
	isle_http_put_str(b, name);
	isle_http_put_u32(b, n);
	isle_http_put(b, v, n);
}

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	if (tag != ISLE_TAG_HTTP || aux == 0) return;
	count++;
	const uint8_t *msg = inbox;
	if (len > sizeof inbox) {
		if (len > sizeof big || isle_msg_read(0, big, len) != (int32_t)len) abort();
		msg = big;
	}
	isle_http_reader_t r = {msg, len, 0, 0};
	uint32_t ml, tl, n;
	const char *method = isle_http_get_str(&r, &ml);
	const char *target = isle_http_get_str(&r, &tl);
	n = isle_http_get_u32(&r);
	const char *names[64], *values[64];
	uint32_t nl[64], vl[64];
	if (n > 64) abort();
	for (uint32_t i = 0; i < n; i++) {
		names[i] = isle_http_get_str(&r, &nl[i]);
		values[i] = isle_http_get_str(&r, &vl[i]);
	}
	size_t blen;
	const uint8_t *body = isle_http_body(&r, &blen);
	if (r.bad) abort();

	isle_http_buf_t b = {out, 0, sizeof out, 0};
	if (eq(target, tl, "/die")) __builtin_trap();
	if (eq(target, tl, "/slow")) {
		isle_info_t info;
		isle_recv(NULL, 0, 0x12345678u, 0xFFFFFFFFu, 2000000000LL, &info); // nothing matches: a sleep
	}
	if (eq(target, tl, "/hang")) {
		isle_info_t info;
		isle_recv(NULL, 0, 0x12345678u, 0xFFFFFFFFu, ISLE_FOREVER, &info);
	}
	if (prefix(target, tl, "/status/")) {
		isle_http_begin_response(&b, (uint32_t)atoi(target + 8), 0);
		isle_reply(aux, ISLE_TAG_HTTP, b.p, b.len, NULL, 0);
		return;
	}
	if (eq(target, tl, "/big")) {
		isle_http_begin_response(&b, 200, 0);
		for (uint32_t i = 0; i < 300000; i++) {
			uint8_t c = (uint8_t)(i % 251);
			isle_http_put(&b, &c, 1);
		}
		isle_reply(aux, ISLE_TAG_HTTP, b.p, b.len, NULL, 0);
		return;
	}
	if (eq(target, tl, "/sum")) {
		uint32_t sum = 0;
		for (size_t i = 0; i < blen; i++) sum += body[i];
		char text[32];
		int tn = snprintf(text, sizeof text, "%zu %u", blen, sum);
		isle_http_begin_response(&b, 200, 0);
		isle_http_put(&b, text, (size_t)tn);
		isle_reply(aux, ISLE_TAG_HTTP, b.p, b.len, NULL, 0);
		return;
	}
	uint32_t echoes = 0;
	const char *host = "";
	uint32_t hl = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (eq(names[i], nl[i], "X-Echo")) echoes++;
		if (eq(names[i], nl[i], "Host")) host = values[i], hl = vl[i];
	}
	char cnt[16];
	int cl = 0;
	for (uint32_t c = count; c || cl == 0; c /= 10) cnt[cl++] = (char)('0' + c % 10);
	for (int i = 0; i < cl / 2; i++) {
		char t = cnt[i];
		cnt[i] = cnt[cl - 1 - i];
		cnt[cl - 1 - i] = t;
	}
	isle_http_begin_response(&b, eq(method, ml, "POST") ? 201 : 200, 6 + echoes);
	isle_http_header(&b, "Content-Type", "text/plain");
	header_n(&b, "X-Method", method, ml);
	header_n(&b, "X-Target", target, tl);
	header_n(&b, "X-Host", host, hl);
	header_n(&b, "X-Count", cnt, (uint32_t)cl);
	isle_http_header(&b, "Transfer-Encoding", "bogus");
	for (uint32_t i = 0; i < n; i++)
		if (eq(names[i], nl[i], "X-Echo")) header_n(&b, "X-Echo-Back", values[i], vl[i]);
	isle_http_put(&b, "hello ", 6);
	isle_http_put(&b, body, blen);
	if (b.over) abort();
	if (isle_reply(aux, ISLE_TAG_HTTP, b.p, b.len, NULL, 0) == ISLE_ETOOBIG) {
		// Over the 1 MiB message limit: the reply handle is still ours.
		b.len = 0;
		isle_http_begin_response(&b, 500, 0);
		isle_http_put(&b, "reply too big", 13);
		isle_reply(aux, ISLE_TAG_HTTP, b.p, b.len, NULL, 0);
	}
}
