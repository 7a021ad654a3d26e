// bomb.c: a spawn bomb. Every copy spawns copies of itself until spawn
// fails, then records how many it made and why it stopped. The host calls
// the first copy to start it and gets back {count, error}.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c bomb.c
#include "isle.h"

static int32_t result[2]; // spawned, the error that stopped it

static void explode(void) {
	isle_handle_t spawner = isle_grant_str("spawner");
	for (;;) {
		isle_handle_t h = isle_spawn(spawner, "bomb", 4, NULL, 0, NULL, 0, 0);
		if (h < 0) {
			result[1] = h;
			return;
		}
		result[0]++;
		isle_close(h); // keep the handle table small; the child lives on
	}
}

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	if (tag == ISLE_TAG_INIT || aux) explode();
	if (aux) isle_reply(aux, 0, result, sizeof result, NULL, 0);
}
