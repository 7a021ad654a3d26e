// kv.c: the key-value benchmark's guest. The host calls it with an
// operation and a count, and it makes that many kv calls in one turn, so
// the figure is the cost of kv_put or kv_get from wasm, not of messages.
//
//   tag 1, payload "grant name"          -> i32 handle
//   tag 2, payload {h, n, vlen, first}   -> u32 failures: n puts of vlen bytes
//   tag 3, payload {h, n, 0, first}      -> u32 failures: n gets
//
// Keys are "kv" followed by 8 hex digits of first, first+1, ...: the same
// keys kvbench writes from Go.
#include "common.h"

#define MAX_VALUE 4096

static uint8_t value[MAX_VALUE];
static uint8_t got[MAX_VALUE];

static void key(char *k, uint32_t i) {
	static const char hex[] = "0123456789abcdef";
	k[0] = 'k';
	k[1] = 'v';
	for (int d = 0; d < 8; d++) k[2 + d] = hex[(i >> (28 - 4 * d)) & 15];
}

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	first_turn(len);
	if (aux == 0) return;
	uint32_t fails = 0;
	char k[10];
	switch (tag) {
	case 1: {
		int32_t h = isle_grant((const char *)in, len < sizeof in ? len : sizeof in);
		isle_reply(aux, 1, &h, 4, NULL, 0);
		return;
	}
	case 2: {
		uint32_t h = in[0], n = in[1], vlen = in[2] < MAX_VALUE ? in[2] : MAX_VALUE, first = in[3];
		for (uint32_t i = 0; i < vlen; i++) value[i] = (uint8_t)(i * 7 + first);
		for (uint32_t i = 0; i < n; i++) {
			key(k, first + i);
			if (isle_kv_put((isle_handle_t)h, k, sizeof k, value, vlen) != 0) fails++;
		}
		break;
	}
	case 3: {
		uint32_t h = in[0], n = in[1], first = in[3];
		for (uint32_t i = 0; i < n; i++) {
			key(k, first + i);
			if (isle_kv_get((isle_handle_t)h, k, sizeof k, got, sizeof got) < 0) fails++;
		}
		break;
	}
	}
	isle_reply(aux, tag, &fails, 4, NULL, 0);
}
