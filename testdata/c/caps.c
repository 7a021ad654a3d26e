// caps.c: a reactor that exercises capabilities, one scenario per tag, and
// replies with what each step returned, so the host can check that no
// right is ever gained, every revoked copy dies, and handle numbers carry
// no authority outside their own table.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c caps.c
#include "isle.h"
#include <string.h>

#define T_CONFINED 1  // look up every grant name: all must be missing
#define T_ATTENUATE 2 // narrow "peer" and try to widen it again
#define T_RELAY 3     // pass the handle this message carries to "next", or keep it
#define T_START 4     // make a revocable forwarder to "target" and send it down the chain
#define T_USE 5       // send to the kept handle
#define T_REVOKE 6    // revoke the forwarder made by T_START
#define T_FAMILY 7    // spawn two children; give one a handle; the other tries to use it
#define T_TELL 8      // child: reply with the number of the handle the init message brought
#define T_TRY 9       // child: send to the handle number in the payload
#define T_NEST 10     // wrap "target" in forwarders of forwarders until refused

static int32_t out[16];
static uint32_t inbox[16];
static isle_handle_t kept, revoker, from_init;

static const char *names[] = {"spawner", "kv", "clock", "log", "random", "http", "dir", "peer", "target", "next"};

static void answer(uint32_t aux, int n) {
	if (aux) isle_reply(aux, 0, out, n * 4, NULL, 0);
}

static int32_t ping(isle_handle_t h) { return isle_send(h, 100, "x", 1, NULL, 0, ISLE_SEND_NONBLOCK); }

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	isle_inbox(inbox, sizeof inbox);
	switch (tag) {
	case ISLE_TAG_INIT:
		if (nhandles) isle_msg_handles(&from_init, 1);
		return;
	case T_CONFINED:
		for (int i = 0; i < 10; i++) out[i] = isle_grant(names[i], strlen(names[i]));
		answer(aux, 10);
		return;
	case T_ATTENUATE: {
		isle_handle_t peer = isle_grant_str("peer");
		isle_handle_t narrow = isle_dup(peer, ISLE_RIGHT_SEND);
		isle_handle_t rv;
		isle_cap_info_t info;
		out[0] = isle_dup(narrow, ISLE_RIGHT_SEND | ISLE_RIGHT_KILL);
		out[1] = isle_kill(narrow);
		out[2] = isle_revocable(narrow, ISLE_RIGHT_SEND | ISLE_RIGHT_KILL, &rv);
		out[3] = isle_monitor(narrow);
		out[4] = ping(narrow);
		isle_inspect(narrow, &info);
		out[5] = (int32_t)info.rights;
		out[6] = (int32_t)info.kind;
		answer(aux, 7);
		return;
	}
	case T_RELAY: {
		isle_handle_t h;
		isle_msg_handles(&h, 1);
		isle_handle_t next = isle_grant_str("next");
		if (next == ISLE_ENOTFOUND) {
			kept = h;
			return;
		}
		isle_send(next, T_RELAY, NULL, 0, &h, 1, 0); // moved on: this hop keeps no copy
		return;
	}
	case T_START: {
		isle_handle_t fwd = isle_revocable(isle_grant_str("target"), ISLE_RIGHT_SEND, &revoker);
		out[0] = fwd > 0 ? 0 : fwd;
		out[1] = ping(fwd);
		isle_send(isle_grant_str("next"), T_RELAY, NULL, 0, &fwd, 1, 0);
		answer(aux, 2);
		return;
	}
	case T_USE: {
		isle_cap_info_t info;
		if (!kept) { // not arrived yet
			out[0] = ISLE_ETIMEOUT, out[1] = out[2] = 0;
			answer(aux, 3);
			return;
		}
		out[0] = ping(kept);
		isle_inspect(kept, &info);
		out[1] = (int32_t)info.revoked;
		out[2] = isle_dup(kept, ISLE_RIGHT_SEND); // a revoked handle cannot be copied back to life
		answer(aux, 3);
		return;
	}
	case T_REVOKE:
		out[0] = isle_revoke(revoker);
		answer(aux, 1);
		return;
	case T_FAMILY: {
		isle_handle_t sp = isle_grant_str("spawner");
		isle_handle_t gift = isle_dup(isle_grant_str("peer"), ISLE_RIGHT_SEND);
		isle_handle_t a = isle_spawn(sp, "caps", 4, NULL, 0, &gift, 1, 0);
		isle_handle_t b = isle_spawn(sp, "caps", 4, NULL, 0, NULL, 0, 0);
		isle_info_t info;
		uint32_t number = 0;
		int32_t r = isle_call(a, T_TELL, NULL, 0, NULL, 0, &number, 4, ISLE_FOREVER, &info);
		out[0] = r;
		out[1] = (int32_t)number;
		int32_t mon = isle_monitor(b);
		out[2] = isle_send(b, T_TRY, &number, 4, NULL, 0, 0);
		// b is abandoned for using a number that is not its right: wait for its DOWN.
		uint32_t down[64];
		out[3] = isle_recv(down, sizeof down, ISLE_TAG_DOWN, 0xFFFFFFFFu, 5000000000LL, &info);
		out[4] = (int32_t)down[0]; // kind: 2 = abandoned
		out[5] = (int32_t)info.aux == mon;
		answer(aux, 6);
		return;
	}
	case T_TELL:
		out[0] = from_init;
		isle_reply(aux, 0, out, 4, NULL, 0);
		return;
	case T_TRY:
		ping((isle_handle_t)inbox[0]);
		return;
	case T_NEST: {
		// Only the newest forwarder and the first revoker are kept, as an
		// attacker that wants a long chain and a small table would.
		isle_handle_t first = 0, rv, fwd = isle_grant_str("target");
		int32_t made = 0, r;
		while ((r = isle_revocable(fwd, ISLE_RIGHT_SEND, &rv)) >= 0 && made < 100000) {
			if (made++ == 0) first = rv;
			else {
				isle_close(fwd);
				isle_close(rv);
			}
			fwd = r;
		}
		out[0] = made;
		out[1] = r;
		out[2] = ping(fwd);
		out[3] = isle_revoke(first);
		out[4] = ping(fwd);
		answer(aux, 5);
		return;
	}
	}
}
