// httpget.c: an HTTP egress client. Usage:
//   httpget GRANT [METHOD URL BODY]...
// For each request it prints one line, "status=S len=N sum=X" (N body
// bytes, X their byte sum mod 2^32), then "h Name: Value" per header and
// "body=..." for a short body; or "error=E" with the ABI's code. It
// starts with a 256-byte buffer, so a bigger response is read with
// isle_msg_read, as a real client would.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2 httpget.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle.h"

static uint8_t small[256];
static uint8_t req[1 << 16];

static void request(isle_handle_t h, const char *method, const char *url, const char *body) {
	isle_http_buf_t b = {req, 0, sizeof req, 0};
	isle_http_begin_request(&b, method, url, 2);
	isle_http_header(&b, "X-Guest", "httpget");
	isle_http_header(&b, "Host", "evil.example"); // must not reach the server
	isle_http_put(&b, body, strlen(body));
	if (b.over) {
		printf("request too big\n");
		exit(2);
	}
	isle_http_info_t info = {0, 0};
	int32_t r = isle_http_request(h, b.p, b.len, small, sizeof small, ISLE_FOREVER, &info);
	uint8_t *resp = small;
	if (r == ISLE_ETOOBIG && info.len > sizeof small) {
		resp = malloc(info.len);
		memcpy(resp, small, sizeof small);
		for (size_t off = sizeof small; off < info.len;) {
			int32_t n = isle_msg_read(off, resp + off, info.len - off);
			if (n <= 0) {
				printf("msg_read returned %d\n", n);
				exit(3);
			}
			off += (size_t)n;
		}
		r = (int32_t)info.len;
	}
	if (r < 0) {
		printf("error=%d\n", r);
		return;
	}
	isle_http_reader_t rd = {resp, (size_t)r, 0, 0};
	uint32_t status = isle_http_get_u32(&rd);
	uint32_t n = isle_http_get_u32(&rd);
	size_t blen;
	const uint8_t *bp;
	// Headers into a list first, so the status line prints first.
	const char *names[64], *values[64];
	uint32_t nl[64], vl[64];
	for (uint32_t i = 0; i < n && i < 64; i++) {
		names[i] = isle_http_get_str(&rd, &nl[i]);
		values[i] = isle_http_get_str(&rd, &vl[i]);
	}
	bp = isle_http_body(&rd, &blen);
	if (rd.bad || status != info.status) {
		printf("bad response encoding\n");
		exit(4);
	}
	uint32_t sum = 0;
	for (size_t i = 0; i < blen; i++) sum += bp[i];
	printf("status=%u len=%zu sum=%u\n", status, blen, sum);
	for (uint32_t i = 0; i < n && i < 64; i++) printf("h %.*s: %.*s\n", (int)nl[i], names[i], (int)vl[i], values[i]);
	if (blen <= 200) printf("body=%.*s\n", (int)blen, (const char *)bp);
	if (resp != small) free(resp);
}

int main(int argc, char **argv) {
	if (argc < 2) return 2;
	isle_handle_t h = isle_grant_str(argv[1]);
	if (h < 0) {
		printf("grant=%d\n", h);
		return 0;
	}
	for (int i = 2; i + 2 < argc; i += 3) request(h, argv[i], argv[i + 1], argv[i + 2]);
	return 0;
}
