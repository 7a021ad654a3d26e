// ring.c: a ring of processes passing a token. The host calls the first
// process, the coordinator, with tag 1 and n: it spawns n-1 others, each
// holding a handle to the next, the last holding the coordinator's. Then a
// call with tag 2 and laps sends an empty token round the ring that many
// times, and is answered when the token is back for the last time. A failed
// setup is answered with tag 99 and the error code.
#include "common.h"

#define TAG_SETUP 1
#define TAG_RUN 2
#define TAG_TOKEN 3
#define TAG_ERROR 99

static isle_handle_t next, waiting;
static uint32_t laps;

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	first_turn(len);
	switch (tag) {
	case TAG_TOKEN:
		if (waiting && --laps == 0) { // the coordinator, after the last lap
			isle_reply(waiting, TAG_RUN, NULL, 0, NULL, 0);
			waiting = 0;
			return;
		}
		isle_send(next, TAG_TOKEN, NULL, 0, NULL, 0, 0);
		return;
	case ISLE_TAG_INIT:
		isle_msg_handles(&next, 1);
		return;
	case TAG_SETUP: {
		isle_handle_t sp = isle_grant_str("spawner");
		isle_handle_t h = isle_self();
		for (uint32_t i = 1; i < in[0]; i++) {
			h = isle_spawn(sp, "ring", 4, NULL, 0, &h, 1, 0);
			if (h < 0) {
				isle_reply(aux, TAG_ERROR, &h, sizeof h, NULL, 0);
				return;
			}
		}
		next = h;
		isle_reply(aux, TAG_SETUP, NULL, 0, NULL, 0);
		return;
	}
	case TAG_RUN:
		waiting = aux;
		laps = in[0];
		isle_send(next, TAG_TOKEN, NULL, 0, NULL, 0, 0);
		return;
	}
}
