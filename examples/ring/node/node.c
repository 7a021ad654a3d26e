/*
 * node.c: one process of examples/ring, a C reactor. It learns the
 * coordinator from its init message and the next node from a tagNext
 * message, then passes the token on: the token's value is the number of
 * hops still to go, and the node that receives 0 tells the coordinator.
 *
 * Build (from the repository root):
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -I sdk/c \
 *     examples/ring/node/node.c -o examples/ring/node.wasm
 */
#include "isle.h"

enum { TAG_NEXT = 1, TAG_TOKEN = 2, TAG_DONE = 3 };

static uint32_t inbox[4];
static isle_handle_t coordinator, next;

__attribute__((constructor)) static void init(void) { isle_inbox(inbox, sizeof inbox); }

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	switch (tag) {
	case ISLE_TAG_INIT:
		isle_msg_handles(&coordinator, 1);
		return;
	case TAG_NEXT:
		isle_msg_handles(&next, 1);
		return;
	case TAG_TOKEN: {
		uint32_t left = inbox[0];
		if (left == 0) {
			isle_send(coordinator, TAG_DONE, NULL, 0, NULL, 0, 0);
			return;
		}
		left--;
		isle_send(next, TAG_TOKEN, &left, sizeof left, NULL, 0, 0);
		return;
	}
	}
}
