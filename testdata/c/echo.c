// echo.c: a reactor that answers every call with the request's own tag and
// payload, and counts the plain messages it gets. Tag 1 asks for the count.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c echo.c
#include "isle.h"

static char inbox[65536];
static uint32_t plain;

__attribute__((constructor)) static void init(void) { isle_inbox(inbox, sizeof inbox); }

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	if (aux == 0) {
		plain++;
		return;
	}
	if (tag == 1) {
		isle_reply(aux, 1, &plain, sizeof plain, NULL, 0);
		return;
	}
	if (len > sizeof inbox) {
		static char big[1 << 20];
		isle_msg_read(0, big, len);
		isle_reply(aux, tag, big, len, NULL, 0);
		return;
	}
	isle_reply(aux, tag, inbox, len, NULL, 0);
}
