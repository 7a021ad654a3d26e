// common.h: what every benchmark reactor shares. The reactors are built
// without libc (see bench/build.go), so nothing runs before the first
// turn; each registers its inbox on that turn and reads the first payload
// with isle_msg_read, since the kernel copied nothing for it.
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#include "isle.h"

static uint32_t in[4]; // the inbox: every benchmark payload fits in 16 bytes
static int ready;

static inline void first_turn(uint32_t len) {
	if (ready) return;
	ready = 1;
	isle_inbox(in, sizeof in);
	if (len) isle_msg_read(0, in, len < sizeof in ? len : sizeof in);
}
#endif
