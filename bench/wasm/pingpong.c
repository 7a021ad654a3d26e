// pingpong.c: message round trips between two reactors of this module,
// trading a 4-byte message. The host calls the first (tag 1, payload n);
// on its first call it spawns the second, passing its own handle in the
// init message. It answers the call after n round trips.
#include "common.h"

#define TAG_START 1
#define TAG_PING 2
#define TAG_PONG 3

static isle_handle_t peer, waiting;
static uint32_t left;

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	first_turn(len);
	switch (tag) {
	case ISLE_TAG_INIT: // the second process: remember the first
		isle_msg_handles(&peer, 1);
		return;
	case TAG_START:
		waiting = aux;
		left = in[0];
		if (!peer) {
			isle_handle_t me = isle_self();
			peer = isle_spawn(isle_grant_str("spawner"), "pingpong", 8, NULL, 0, &me, 1, 0);
		}
		isle_send(peer, TAG_PING, &left, 4, NULL, 0, 0);
		return;
	case TAG_PING:
		isle_send(peer, TAG_PONG, in, 4, NULL, 0, 0);
		return;
	case TAG_PONG:
		if (--left > 0) {
			isle_send(peer, TAG_PING, &left, 4, NULL, 0, 0);
		} else {
			isle_reply(waiting, TAG_START, NULL, 0, NULL, 0);
		}
		return;
	}
}
