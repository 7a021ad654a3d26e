// svc.c: a supervised service and the collector it reports to. Its init
// message picks the role:
//   "worker": tag 1 (call) replies "pong"; tag 2 traps; tag 3 forwards its
//     4-byte sequence number to the process granted as "collector"; tag 5
//     (call) replies with how many messages this instance has handled;
//     tag 6 exits with code 0. Shutdown (0xFFFF0004) exits 0.
//   "stubborn": a worker that ignores shutdown.
//   "collector": tag 3 records a sequence number (below 1<<20); tag 4
//     (call) replies with how many distinct numbers it has seen.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c svc.c
#include <string.h>
#include "isle.h"

#define TAG_SHUTDOWN ISLE_TAG_SHUTDOWN

static char role[16];
static uint32_t handled, distinct;
static uint8_t seen[1 << 17];
static char inbox[64];

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	if (tag == ISLE_TAG_INIT) {
		isle_msg_read(0, role, sizeof role - 1);
		isle_inbox(inbox, sizeof inbox);
		return;
	}
	handled++;
	if (!strcmp(role, "collector")) {
		if (tag == 3 && len == 4) {
			uint32_t n;
			memcpy(&n, inbox, 4);
			n &= (1 << 20) - 1;
			if (!(seen[n >> 3] & (1 << (n & 7)))) {
				seen[n >> 3] |= 1 << (n & 7);
				distinct++;
			}
		} else if (tag == 4) {
			isle_reply(aux, 0, &distinct, 4, NULL, 0);
		}
		return;
	}
	switch (tag) {
	case 1:
		isle_reply(aux, 0, "pong", 4, NULL, 0);
		break;
	case 2:
		__builtin_trap();
	case 3:
		isle_send(isle_grant_str("collector"), 3, inbox, 4, NULL, 0, 0);
		break;
	case 5:
		isle_reply(aux, 0, &handled, 4, NULL, 0);
		break;
	case 6:
		isle_exit(0);
	case TAG_SHUTDOWN:
		if (strcmp(role, "stubborn")) isle_exit(0);
		break;
	}
}
