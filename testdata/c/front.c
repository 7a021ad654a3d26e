// front.c: an HTTP front for a service it uses. Every ISLE_TAG_HTTP
// request calls the grant "back" with tag 1 (svc.c's worker answers
// "pong") and answers 200 "front: " + the reply, or 503 "front: back
// failed: CODE" with the call's error code (-2 once back is gone).
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c front.c
#include <stdio.h>
#include <string.h>

#include "isle.h"

static uint8_t inbox[4096];
static uint8_t out[4096];
static char answer[256];
static isle_handle_t back = -1;

__attribute__((constructor)) static void init(void) { isle_inbox(inbox, sizeof inbox); }

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	if (tag == ISLE_TAG_SHUTDOWN) isle_exit(0);
	if (tag != ISLE_TAG_HTTP || aux == 0) return;
	if (back < 0) back = isle_grant_str("back");
	isle_info_t info;
	int32_t n = isle_call(back, 1, NULL, 0, NULL, 0, answer, sizeof answer, 2000000000LL, &info);
	isle_http_buf_t b = {out, 0, sizeof out, 0};
	char text[300];
	int tn;
	if (n < 0) {
		tn = snprintf(text, sizeof text, "front: back failed: %d", (int)n);
		isle_http_begin_response(&b, 503, 0);
	} else {
		if ((size_t)n > sizeof answer) n = sizeof answer;
		tn = snprintf(text, sizeof text, "front: %.*s", (int)n, answer);
		isle_http_begin_response(&b, 200, 0);
	}
	isle_http_put(&b, text, (size_t)tn);
	isle_reply(aux, ISLE_TAG_HTTP, b.p, b.len, NULL, 0);
}
