// pingpong.c: two reactors from one module trading a 4-byte message.
// The host calls the first ("ping") with a round-trip count; it spawns a
// second ("pong") from the same module, passing its own handle in the init
// message, then volleys. When the count is done it answers the host's call.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c pingpong.c
#include "isle.h"

#define TAG_START 1
#define TAG_PING 2
#define TAG_PONG 3

static uint32_t inbox[16];
static isle_handle_t peer;
static isle_handle_t waiting; // the host's reply handle
static uint32_t left;

__attribute__((constructor)) static void init(void) { isle_inbox(inbox, sizeof inbox); }

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	switch (tag) {
	case ISLE_TAG_INIT: // pong: remember ping
		isle_msg_handles(&peer, 1);
		return;
	case TAG_START: { // ping: the host's call
		waiting = aux;
		left = inbox[0];
		if (!peer) {
			isle_handle_t me = isle_self();
			peer = isle_spawn(isle_grant_str("spawner"), "pingpong", 8, NULL, 0, &me, 1, 0);
		}
		isle_send(peer, TAG_PING, &left, 4, NULL, 0, 0);
		return;
	}
	case TAG_PING: // pong: answer
		isle_send(peer, TAG_PONG, inbox, 4, NULL, 0, 0);
		return;
	case TAG_PONG: // ping: one round trip done
		if (--left > 0) {
			isle_send(peer, TAG_PING, &left, 4, NULL, 0, 0);
		} else {
			isle_reply(waiting, TAG_START, NULL, 0, NULL, 0);
		}
		return;
	}
}
