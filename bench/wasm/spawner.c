// spawner.c: guest-to-guest spawn latency. A call with tag 1 and payload
// n spawns n "tiny" children (at most 8,192 alive) through isle_spawn,
// timing each call with the monotonic clock (the process is granted the
// real clock), and replies with the durations in nanoseconds as uint32, or
// with tag 99 and the error code. Tag 2 kills and closes every child. The
// children stay alive between the two, as Erlang's do.
#include "common.h"

#define TAG_SPAWN 1
#define TAG_KILL 2
#define TAG_ERROR 99
#define MAX 8192

__attribute__((import_module("wasi_snapshot_preview1"), import_name("clock_time_get")))
int32_t clock_time_get(uint32_t id, uint64_t precision, uint64_t *out);

static uint32_t took[MAX];
static isle_handle_t kids[MAX];
static uint32_t nkids;

static uint64_t now(void) {
	uint64_t t = 0;
	clock_time_get(1, 1, &t); // 1: CLOCK_MONOTONIC
	return t;
}

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	first_turn(len);
	if (tag == TAG_SPAWN) {
		uint32_t n = in[0];
		if (n > MAX - nkids) n = MAX - nkids;
		isle_handle_t sp = isle_grant_str("spawner");
		for (uint32_t i = 0; i < n; i++) {
			uint64_t t0 = now();
			isle_handle_t h = isle_spawn(sp, "tiny", 4, NULL, 0, NULL, 0, 0);
			uint64_t t1 = now();
			if (h < 0) { // report the error code instead of durations
				isle_reply(aux, TAG_ERROR, &h, sizeof h, NULL, 0);
				return;
			}
			kids[nkids++] = h;
			took[i] = (uint32_t)(t1 - t0);
		}
		isle_reply(aux, TAG_SPAWN, took, n * sizeof took[0], NULL, 0);
	} else if (tag == TAG_KILL) {
		for (uint32_t i = 0; i < nkids; i++) {
			isle_kill(kids[i]);
			isle_close(kids[i]);
		}
		nkids = 0;
		isle_reply(aux, TAG_KILL, NULL, 0, NULL, 0);
	}
}
