// flood.c: a sender that tries to bury a receiver. The host calls it with
// the receiver's handle already granted as "victim"; it sends 1 KiB
// messages as fast as it can: first non-blocking until the mailbox is full
// (and replies with how many were taken and the error that stopped them),
// then blocking, which must hold it back instead of eating the node's
// memory. When a blocking send fails (the host kills the receiver), it
// exits with the number of blocking sends that went through: with the
// receiver's mailbox full all along, none.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c flood.c
#include "isle.h"

static char payload[1024];
static int32_t report[2]; // non-blocking sends accepted, the error that ended them

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	isle_handle_t victim = isle_grant_str("victim");
	int32_t r;
	while ((r = isle_send(victim, 1, payload, sizeof payload, NULL, 0, ISLE_SEND_NONBLOCK)) == 0) report[0]++;
	report[1] = r;
	isle_reply(aux, 0, report, sizeof report, NULL, 0);
	uint32_t through = 0;
	while (isle_send(victim, 1, payload, sizeof payload, NULL, 0, 0) == 0) through++; // blocks when full
	isle_exit(through);
}
