// tiny.c: the smallest useful reactor, the one every spawn and idle-memory
// figure uses. It counts messages and answers calls with the count.
#include "isle.h"

static uint32_t count;

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	count++;
	if (aux) isle_reply(aux, tag, &count, sizeof count, NULL, 0);
}
