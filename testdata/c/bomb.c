// bomb.c: a spawn bomb. Every copy spawns copies of itself until spawn
// fails, then reports to the first copy how many it made and why it
// stopped. The host calls the first copy with tag 1 to start it and gets
// back {count, error}; a later call with tag 4 returns what the others
// have reported so far: {reports, children they spawned, reports of
// ELIMIT}, so the host can tell when the storm is over.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c bomb.c
#include "isle.h"

enum { TAG_START = 1, TAG_REPORT = 2, TAG_REPORT_TO = 3, TAG_TOTALS = 4 };

static int32_t result[2];       // spawned, the error that stopped it
static int32_t totals[3];       // at the first copy: reports, children they spawned, ELIMITs
static isle_handle_t report_to; // where to report; 0 in the first copy

static void explode(isle_handle_t first) {
	isle_handle_t spawner = isle_grant_str("spawner");
	for (;;) {
		isle_handle_t h = isle_spawn(spawner, "bomb", 4, NULL, 0, NULL, 0, 0);
		if (h < 0) {
			result[1] = h;
			return;
		}
		result[0]++;
		// Tell the child where to report. It may be a module that never
		// reads it (a test spawns another in its place); that is fine.
		isle_send(h, TAG_REPORT_TO, NULL, 0, &first, 1, ISLE_SEND_COPY | ISLE_SEND_NONBLOCK);
		isle_close(h); // keep the handle table small; the child lives on
	}
}

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	if (aux && tag == TAG_TOTALS) {
		isle_reply(aux, 0, totals, sizeof totals, NULL, 0);
		return;
	}
	if (aux) { // the host starts the first copy
		explode(isle_self());
		isle_reply(aux, 0, result, sizeof result, NULL, 0);
		return;
	}
	if (tag == TAG_REPORT_TO && nhandles == 1 && !report_to) {
		isle_msg_handles(&report_to, 1);
		explode(report_to);
		isle_send(report_to, TAG_REPORT, result, sizeof result, NULL, 0, 0);
		return;
	}
	if (tag == TAG_REPORT && len == sizeof result) {
		int32_t r[2];
		isle_msg_read(0, r, sizeof r);
		totals[0]++;
		totals[1] += r[0];
		totals[2] += r[1] == ISLE_ELIMIT;
	}
}
