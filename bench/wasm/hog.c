// hog.c: the worst guests of the governance workload, one per message tag.
// Each turn it is given never returns by itself:
//   1: fill and copy all 16 MiB of its memory, for ever (bulk operations
//      that once ran to completion with no safepoint);
//   2: write 1 MiB to stdout, for ever (given a pipe nobody reads, the
//      write blocks in the host);
//   3: recurse without end (the call stack).
// Built with the bench's reactor flags plus -mbulk-memory and 16 MiB of
// initial memory (bench/build.go).
#include "common.h"

__attribute__((import_module("wasi_snapshot_preview1"), import_name("fd_write")))
int32_t fd_write(int32_t fd, const void *iovs, int32_t n, int32_t *written);

extern unsigned char __heap_base;

static int32_t deeper(int32_t n) { return deeper(n + 1) + 1; }

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	first_turn(len);
	unsigned char *heap = &__heap_base;
	uint32_t size = (16u << 20) - (uint32_t)(uintptr_t)heap;
	switch (tag) {
	case 1:
		for (;;) {
			__builtin_memset(heap, 7, size);
			__builtin_memmove(heap + 1, heap, size - 1);
		}
	case 2: {
		struct { const void *p; uint32_t n; } iov = {heap, 1u << 20};
		int32_t written;
		for (;;) fd_write(1, &iov, 1, &written);
	}
	case 3:
		deeper((int32_t)len);
	}
}
