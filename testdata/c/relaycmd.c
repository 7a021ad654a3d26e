// relaycmd.c: relay.c as a command: it receives calls in a loop and
// passes each on as relay.c does, to the first handle of its init
// message, else the grant its init payload names, else the grant "next".
// A shutdown message ends it.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2 -I sdk/c
//   relaycmd.c
#include <string.h>
#include "isle.h"

int main(void) {
	static char buf[64], answer[64];
	isle_handle_t next = isle_grant_str("next");
	for (;;) {
		isle_info_t info;
		int32_t n = isle_recv(buf, sizeof buf, 0, 0, -1, &info);
		if (n < 0 && n != ISLE_ETOOBIG) return 1;
		if (info.tag == ISLE_TAG_INIT) {
			if (info.nhandles > 0) {
				isle_msg_handles(&next, 1);
			} else if (info.len > 0 && info.len < sizeof buf) {
				next = isle_grant(buf, info.len);
			}
			continue;
		}
		if (info.tag == ISLE_TAG_SHUTDOWN) return 0;
		if (!info.aux) continue;
		uint32_t len = info.len < sizeof buf ? info.len : sizeof buf;
		if (next < 0) {
			isle_reply(info.aux, info.tag + 100, NULL, 0, NULL, 0);
			continue;
		}
		isle_info_t got;
		n = isle_call(next, info.tag + 1, buf, len, NULL, 0, answer, sizeof answer, -1, &got);
		isle_reply(info.aux, n < 0 ? 0 : got.tag, NULL, 0, NULL, 0);
	}
}
