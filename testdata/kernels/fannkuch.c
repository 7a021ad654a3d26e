// fannkuch-redux: for every permutation of 1..n, count how many prefix
// reversals ("flips") it takes until 1 comes first. Print a checksum over
// all permutations and the largest flip count. Loops, small arrays, no
// calls in the hot path.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 7;
	if (n < 3 || n > 12)
		return 2;
	int perm[16], work[16], count[16];
	for (int i = 0; i < n; i++)
		perm[i] = i;
	long checksum = 0;
	int maxflips = 0, index = 0;
	int r = n;
	for (;;) {
		for (; r > 1; r--)
			count[r - 1] = r;
		// Count the flips of this permutation.
		if (perm[0] != 0) {
			for (int i = 0; i < n; i++)
				work[i] = perm[i];
			int flips = 0;
			for (int k = work[0]; k != 0; k = work[0]) {
				for (int i = 0, j = k; i < j; i++, j--) {
					int t = work[i];
					work[i] = work[j];
					work[j] = t;
				}
				flips++;
			}
			if (flips > maxflips)
				maxflips = flips;
			checksum += (index & 1) ? -flips : flips;
		}
		// Next permutation, in the order the counting scheme gives.
		for (;;) {
			if (r == n) {
				printf("fannkuch %d %ld %d\n", n, checksum, maxflips);
				return 0;
			}
			int first = perm[0];
			for (int i = 0; i < r; i++)
				perm[i] = perm[i + 1];
			perm[r] = first;
			if (--count[r] > 0)
				break;
			r++;
		}
		index++;
	}
}
