// http.c: the HTTP ingress benchmark's reactor, a serverless "hello"
// function. For each ISLE_TAG_HTTP request it finds name=VALUE in the
// query and answers 200, Content-Type: text/plain, "hello, VALUE": the
// same work as the plain net/http handler it is measured against
// (bench.HelloHandler). Built like every benchmark reactor, without libc.
#include "isle.h"

static uint8_t inbox[4096];
static uint8_t out[1024];
static int ready;

// Without libc nothing else provides these, and clang may turn the copy
// loops below into calls to them.
__attribute__((no_builtin)) void *memcpy(void *d, const void *s, size_t n) {
	uint8_t *dp = d;
	const uint8_t *sp = s;
	while (n--) *dp++ = *sp++;
	return d;
}

__attribute__((no_builtin)) void *memset(void *d, int c, size_t n) {
	uint8_t *dp = d;
	while (n--) *dp++ = (uint8_t)c;
	return d;
}

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	if (!ready) {
		ready = 1;
		isle_inbox(inbox, sizeof inbox);
		isle_msg_read(0, inbox, len < sizeof inbox ? len : sizeof inbox);
	}
	if (tag != ISLE_TAG_HTTP || aux == 0) return;
	if (len > sizeof inbox) len = sizeof inbox; // a long request is cut: the name is early
	isle_http_reader_t r = {inbox, len, 0, 0};
	uint32_t ml, tl;
	isle_http_get_str(&r, &ml);
	const char *target = isle_http_get_str(&r, &tl);
	const char *name = "";
	uint32_t nl = 0;
	for (uint32_t i = 0; i + 5 <= tl; i++) {
		if ((i == 0 || target[i - 1] == '?' || target[i - 1] == '&') && target[i] == 'n' &&
		    target[i + 1] == 'a' && target[i + 2] == 'm' && target[i + 3] == 'e' && target[i + 4] == '=') {
			name = target + i + 5;
			while (nl < tl - i - 5 && name[nl] != '&') nl++;
			break;
		}
	}
	isle_http_buf_t b = {out, 0, sizeof out, 0};
	isle_http_begin_response(&b, 200, 1);
	isle_http_header(&b, "Content-Type", "text/plain");
	isle_http_put(&b, "hello, ", 7);
	isle_http_put(&b, name, nl);
	isle_reply(aux, ISLE_TAG_HTTP, b.p, b.len, NULL, 0);
}
