// relay.c: a link of a call chain, as a reactor. A call with tag T is
// passed on as a call with tag T+1 to the next link, and the next link's
// reply is the answer; the last link (no next) answers T+100, or traps if
// the payload is "crash". The next link is the first handle of the init
// message, else the grant named by the init payload, else the grant
// "next".
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c relay.c
#include <string.h>
#include "isle.h"

static char inbox[64];
static char answer[64];
static isle_handle_t next = -1;
static int looked;

__attribute__((constructor)) static void init(void) { isle_inbox(inbox, sizeof inbox); }

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	if (tag == ISLE_TAG_INIT) {
		if (nhandles > 0) {
			isle_msg_handles(&next, 1);
		} else if (len > 0 && len < sizeof inbox) {
			next = isle_grant(inbox, len);
		}
		looked = 1;
		return;
	}
	if (tag == ISLE_TAG_SHUTDOWN) isle_exit(0);
	if (!aux) return; // only calls
	if (!looked) {
		next = isle_grant_str("next");
		looked = 1;
	}
	if (len > sizeof inbox) len = sizeof inbox;
	if (next < 0) {
		if (len == 5 && !memcmp(inbox, "crash", 5)) __builtin_trap();
		isle_reply(aux, tag + 100, NULL, 0, NULL, 0);
		return;
	}
	isle_info_t info;
	int32_t n = isle_call(next, tag + 1, inbox, len, NULL, 0, answer, sizeof answer, -1, &info);
	isle_reply(aux, n < 0 ? 0 : info.tag, NULL, 0, NULL, 0);
}
