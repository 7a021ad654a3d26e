// traps.c: a guest that faults on purpose, one way per argument, so that
// isle's abandonment reasons can be checked against real traps.
// Built by internal/testwasm: clang --target=wasm32-wasi -O0 -g traps.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile int zero = 0;

__attribute__((noinline)) int divide(int a, int b) {
	return a / b; // the divide-by-zero line
}

__attribute__((noinline)) int load_far(void) {
	volatile int *p = (int *)0x7ffffff0; // far past a small memory
	return *p;
}

__attribute__((noinline)) void crash_here(void) {
	__builtin_trap(); // the unreachable line
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: traps unreachable|divzero|oob|abort|exit N\n");
		return 2;
	}
	const char *m = argv[1];
	if (!strcmp(m, "unreachable")) crash_here();
	if (!strcmp(m, "divzero")) return divide(1, zero);
	if (!strcmp(m, "oob")) return load_far();
	if (!strcmp(m, "abort")) abort();
	if (!strcmp(m, "exit") && argc > 2) exit(atoi(argv[2]));
	fprintf(stderr, "unknown mode %s\n", m);
	return 2;
}
