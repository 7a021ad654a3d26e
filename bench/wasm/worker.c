// worker.c: a supervised service for the restart benchmark. A call with
// tag 1 is answered; a message with tag 2 traps, crashing the instance.
#include "common.h"

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	first_turn(len);
	if (tag == 2) __builtin_trap();
	if (aux) isle_reply(aux, tag, NULL, 0, NULL, 0);
}
