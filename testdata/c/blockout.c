// blockout.c: a reactor whose every turn writes more to stdout than any
// pipe holds. Given an output nobody reads, its turn blocks in the write.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c blockout.c
#include <string.h>
#include <unistd.h>
#include "isle.h"

static char buf[1 << 20];

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	memset(buf, 'x', sizeof buf);
	for (int i = 0; i < 4; i++) write(1, buf, sizeof buf);
}
