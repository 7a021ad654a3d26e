// tiny.c: the smallest useful reactor: it counts messages and answers
// calls with the count. Used for spawn and idle-memory measurements.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -nostdlib -Wl,--no-entry
//   -Wl,-z,stack-size=4096 -Wl,--initial-memory=65536 -I sdk/c tiny.c
#include "isle.h"

static uint32_t count;

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	count++;
	if (aux) isle_reply(aux, tag, &count, sizeof count, NULL, 0);
}
