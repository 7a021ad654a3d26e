// collatz: the start below N with the longest Collatz chain. The inner
// loop is a handful of integer instructions and a branch: the worst case
// for a check at every loop header.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
	unsigned best = 1, bestlen = 0;
	unsigned long long total = 0;
	for (unsigned i = 1; i < n; i++) {
		unsigned long long x = i;
		unsigned len = 0;
		while (x != 1) {
			x = (x & 1) ? 3 * x + 1 : x >> 1;
			len++;
		}
		total += len;
		if (len > bestlen) {
			bestlen = len;
			best = i;
		}
	}
	printf("collatz %u %u %u %llu\n", n, best, bestlen, total);
	return 0;
}
