// kv.c: a reactor that makes key-value calls on the host's behalf, so the
// tests can drive every kv_* function from Go through a real guest and
// check each result code. Every request's payload starts with u32 fields;
// the reply's starts with the i32 result of the call made.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c kv.c
#include <string.h>

#include "isle.h"

enum {
	OP_GRANT = 1,     // name                      -> r
	OP_PUT = 2,       // h, klen, key, value       -> r
	OP_GET = 3,       // h, cap, key               -> r, value (r > 0 && cap > 0)
	OP_DEL = 4,       // h, key                    -> r
	OP_LIST = 5,      // h, cap, plen, prefix, after -> r, bytes walked, buf[cap]
	OP_DUP = 6,       // h, rights                 -> r
	OP_REVOCABLE = 7, // h, rights                 -> forwarder, revoker
	OP_REVOKE = 8,    // revoker                   -> r
	OP_MISUSE = 9,    // h, which                  -> (abandons)
	OP_PUTN = 10,     // h, vlen, key              -> r: a generated value of vlen bytes
	OP_GETSUM = 11,   // h, cap, key               -> r, fnv1a(value)
	OP_FILL = 12,     // h, vlen, n, prefix        -> r, puts: put keys prefix0, prefix1, ...
	                  //                              with vlen-byte values until a put fails or n are stored
};

#define BIG (2u << 20)
static uint8_t in[BIG];   // the inbox: requests up to the message limit
static uint8_t data[BIG]; // values and listings
static uint8_t out[BIG];  // replies

__attribute__((constructor)) static void init(void) { isle_inbox(in, sizeof in); }

static uint32_t u32at(uint32_t off) {
	uint32_t v;
	memcpy(&v, in + off, 4);
	return v;
}

static void answer(uint32_t aux, int32_t r, const void *extra, uint32_t n) {
	memcpy(out, &r, 4);
	if (n) memcpy(out + 4, extra, n);
	isle_reply(aux, 0, out, 4 + n, NULL, 0);
}

static uint8_t pattern(uint32_t i, uint32_t seed) { return (uint8_t)(i * 7 + seed); }

static uint32_t fnv1a(const uint8_t *p, uint32_t n) {
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
	return h;
}

// misuse makes one call that breaks the ABI's contract.
static void misuse(isle_handle_t h, uint32_t which) {
	uint32_t end = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
	switch (which) {
	case 0: isle_kv_get(h, (void *)(end - 4), 64, data, 16); break;        // key past the end
	case 1: isle_kv_get(h, "k", 1, (void *)(end - 8), 4096); break;        // buffer past the end
	case 2: isle_kv_put(h, "k", 1, (void *)(end - 100), 200); break;       // value past the end
	case 3: isle_kv_list(h, "", 0, "", 0, (void *)16, 0xFFFFFFF8u); break; // range wraps
	case 4: isle_kv_put(h, "k", 0, "v", 1); break;                         // empty key
	case 5: isle_kv_get(isle_self(), "k", 1, data, 16); break;             // a process handle
	case 6: isle_kv_delete(h + 4096, "k", 1); break;                        // not in the table
	}
}

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	if (aux == 0) return;
	isle_handle_t h = (isle_handle_t)u32at(0);
	switch (tag) {
	case OP_GRANT:
		answer(aux, isle_grant((const char *)in, len), NULL, 0);
		return;
	case OP_PUT: {
		uint32_t klen = u32at(4);
		answer(aux, isle_kv_put(h, in + 8, klen, in + 8 + klen, len - 8 - klen), NULL, 0);
		return;
	}
	case OP_PUTN: {
		uint32_t vlen = u32at(4);
		uint32_t klen = len - 8;
		for (uint32_t i = 0; i < vlen && i < BIG; i++) data[i] = pattern(i, klen);
		answer(aux, isle_kv_put(h, in + 8, klen, data, vlen), NULL, 0);
		return;
	}
	case OP_GET: {
		uint32_t cap = u32at(4);
		int32_t r = isle_kv_get(h, in + 8, len - 8, data, cap);
		answer(aux, r, data, r > 0 && cap > 0 ? (uint32_t)r : 0);
		return;
	}
	case OP_GETSUM: {
		uint32_t cap = u32at(4);
		int32_t r = isle_kv_get(h, in + 8, len - 8, data, cap);
		uint32_t sum = r >= 0 && cap > 0 ? fnv1a(data, (uint32_t)r) : 0;
		answer(aux, r, &sum, 4);
		return;
	}
	case OP_DEL:
		answer(aux, isle_kv_delete(h, in + 4, len - 4), NULL, 0);
		return;
	case OP_FILL: {
		uint32_t vlen = u32at(4), n = u32at(8), plen = len - 12;
		uint8_t key[64];
		int32_t r = 0;
		uint32_t puts = 0;
		memcpy(key, in + 12, plen);
		for (; puts < n; puts++) {
			uint32_t klen = plen, i = puts;
			do key[klen++] = (uint8_t)('0' + i % 10); while ((i /= 10) != 0);
			if ((r = isle_kv_put(h, key, klen, data, vlen)) != 0) break;
		}
		answer(aux, r, &puts, 4);
		return;
	}
	case OP_LIST: {
		uint32_t cap = u32at(4), plen = u32at(8);
		const uint8_t *prefix = in + 12, *after = in + 12 + plen;
		memset(data, 0xEE, cap);
		int32_t r = isle_kv_list(h, prefix, plen, after, len - 12 - plen, data, cap);
		// Walk the records with the header's helper: the reply says where
		// the walk ended, then carries the buffer.
		const uint8_t *p = data, *key;
		for (int32_t i = 0; i < r; i++) isle_kv_record(&p, &key);
		uint32_t walked = (uint32_t)(p - data);
		memcpy(out + 4, &walked, 4);
		memcpy(out + 8, data, cap);
		memcpy(out, &r, 4);
		isle_reply(aux, 0, out, 8 + cap, NULL, 0);
		return;
	}
	case OP_DUP:
		answer(aux, isle_dup(h, u32at(4)), NULL, 0);
		return;
	case OP_REVOCABLE: {
		isle_handle_t rev = 0;
		int32_t f = isle_revocable(h, u32at(4), &rev);
		answer(aux, f, &rev, 4);
		return;
	}
	case OP_REVOKE:
		answer(aux, isle_revoke(h), NULL, 0);
		return;
	case OP_MISUSE:
		misuse(h, u32at(4));
		answer(aux, 0, NULL, 0); // not reached: each case abandons
		return;
	}
}
