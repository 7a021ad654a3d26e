// readdircheck.c: fd_readdir's cookies, on a directory preopened at /d.
// argv[1] is the mode:
//   check      lists /d whole, then pages through it with every buffer
//              size from 1 to 600 bytes, reads at every cookie (descending
//              and scattered), at huge cookies, and through a renumbered
//              descriptor; prints "FAIL ..." for each check that fails,
//              then "done".
//   skip       lists /d from a far cookie and then from 0, over and over.
//   churn N    for each of two calls from the host: N rounds of opening
//              /d twice, listing, rewinding, renumbering and closing, then
//              answers N.
// Written by an outside review. Built by internal/testwasm: clang
// --target=wasm32-wasi -O2 -I sdk/c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>
#include "preopen_d.h"
#include "isle.h"

#define MAXE 2000
static char *names[MAXE];
static uint64_t nexts[MAXE];
static int n;
static int fails;
#define FAIL(...) do { printf("FAIL "); printf(__VA_ARGS__); printf("\n"); fails++; } while (0)

static uint8_t big[1 << 20];

// parse full entries of buf[0:used]; returns count, fills out arrays
static int parse(uint8_t *buf, uint32_t used, char **nm, uint64_t *nx, int max) {
	uint32_t off = 0;
	int k = 0;
	while (off + sizeof(__wasi_dirent_t) <= used && k < max) {
		__wasi_dirent_t d;
		memcpy(&d, buf + off, sizeof d);
		if (off + sizeof d + d.d_namlen > used) break;
		nm[k] = strndup((char *)buf + off + sizeof d, d.d_namlen);
		nx[k] = d.d_next;
		k++;
		off += sizeof d + d.d_namlen;
	}
	return k;
}

int main(int argc, char **argv) {
	__wasi_fd_t d = preopen();
	if (d == (__wasi_fd_t)-1 || argc < 2) return 2;
	__wasi_size_t used;
	if (!strcmp(argv[1], "churn")) {
		isle_info_t info;
		uint8_t buf[64];
		for (int round = 0; round < 2; round++) {
			isle_recv(NULL, 0, 0, 0, ISLE_FOREVER, &info);
			int n = atoi(argv[2]);
			uint32_t done = 0;
			for (int i = 0; i < n; i++) {
				__wasi_fd_t f, g;
				if (__wasi_path_open(d, 0, ".", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR, 0, 0, &f)) break;
				if (__wasi_path_open(d, 0, ".", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR, 0, 0, &g)) break;
				__wasi_fd_readdir(f, buf, sizeof buf, 0, &used);
				__wasi_fd_readdir(g, buf, sizeof buf, 5, &used);
				__wasi_fd_readdir(f, buf, sizeof buf, 0, &used); /* rewind */
				if (i % 2) __wasi_fd_renumber(f, g), __wasi_fd_close(g);
				else __wasi_fd_renumber(g, f), __wasi_fd_close(f);
				done++;
			}
			isle_reply((isle_handle_t)info.aux, 1, &done, sizeof done, NULL, 0);
		}
		isle_info_t x;
		isle_recv(NULL, 0, 99, 0xffffffffu, ISLE_FOREVER, &x);
	}
	if (!strcmp(argv[1], "skip")) {
		uint8_t buf[64];
		for (;;) {
			__wasi_fd_readdir(d, buf, sizeof buf, 1ull << 40, &used);
			__wasi_fd_readdir(d, buf, sizeof buf, 0, &used);
		}
	}
	// full listing with a big buffer
	int e = __wasi_fd_readdir(d, big, sizeof big, 0, &used);
	if (e) { FAIL("full errno %d", e); goto out; }
	if (used == sizeof big) { FAIL("big buffer full"); goto out; }
	n = parse(big, used, names, nexts, MAXE);
	int dot = 0, dotdot = 0;
	for (int i = 0; i < n; i++) {
		if (nexts[i] != (uint64_t)i + 1) FAIL("full: entry %d (%s) d_next %llu", i, names[i], (unsigned long long)nexts[i]);
		if (!strcmp(names[i], ".")) dot++;
		if (!strcmp(names[i], "..")) dotdot++;
		for (int j = 0; j < i; j++) if (!strcmp(names[i], names[j])) FAIL("full: duplicate %s at %d and %d", names[i], j, i);
	}
	if (dot != 1 || dotdot != 1) FAIL("dots %d %d", dot, dotdot);
	printf("n=%d\n", n);
	// paging with every buffer size, libc style
	static char *pn[MAXE]; static uint64_t px[MAXE];
	static uint8_t pbuf[4096];
	for (uint32_t bs = 1; bs <= 600; bs++) {
		uint64_t cookie = 0;
		int got = 0, stuck = 0, calls = 0;
		for (;;) {
			if (++calls > 100000) { FAIL("bs %u: too many calls", bs); break; }
			e = __wasi_fd_readdir(d, pbuf, bs, cookie, &used);
			if (e) { FAIL("bs %u: errno %d", bs, e); break; }
			if (used > bs) { FAIL("bs %u: used %u", bs, used); break; }
			char *tn[600]; uint64_t tx[600];
			int k = parse(pbuf, used, tn, tx, 600);
			for (int i = 0; i < k; i++) {
				if (got >= MAXE || got >= n) { FAIL("bs %u: too many entries", bs); goto nextbs; }
				if (strcmp(tn[i], names[got])) FAIL("bs %u: entry %d is %s, want %s", bs, got, tn[i], names[got]);
				if (tx[i] != nexts[got]) FAIL("bs %u: entry %d d_next %llu", bs, got, (unsigned long long)tx[i]);
				cookie = tx[i];
				got++;
				free(tn[i]);
			}
			if (used < bs) break;
			if (k == 0) { stuck = 1; break; } // the entry does not fit this buffer
		}
		if (!stuck && got != n) FAIL("bs %u: got %d of %d", bs, got, n);
	nextbs:;
	}
	// random access, descending then pseudo-random
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < n + 40; i++) {
			uint64_t c = round == 0 ? (uint64_t)(n + 39 - i) : (uint64_t)((i * 7919) % (n + 40));
			e = __wasi_fd_readdir(d, pbuf, sizeof pbuf, c, &used);
			if (e) { FAIL("cookie %llu: errno %d", (unsigned long long)c, e); continue; }
			char *tn[600]; uint64_t tx[600];
			int k = parse(pbuf, used, tn, tx, 600);
			if (c >= (uint64_t)n) { if (used) FAIL("cookie %llu past end: used %u", (unsigned long long)c, used); continue; }
			if (k == 0) { FAIL("cookie %llu: nothing", (unsigned long long)c); continue; }
			if (strcmp(tn[0], names[c]) || tx[0] != c + 1) FAIL("cookie %llu: first %s next %llu, want %s", (unsigned long long)c, tn[0], (unsigned long long)tx[0], names[c]);
			for (int j = 0; j < k; j++) free(tn[j]);
		}
	// huge cookies
	uint64_t huge[] = {~0ull, ~0ull - 1, 1ull << 63, 1ull << 32};
	for (int i = 0; i < 4; i++) {
		e = __wasi_fd_readdir(d, pbuf, sizeof pbuf, huge[i], &used);
		if (e || used) FAIL("huge %llu: %d %u", (unsigned long long)huge[i], e, used);
	}
	e = __wasi_fd_readdir(d, pbuf, sizeof pbuf, n > 1 ? 1 : 0, &used);
	if (e || (n > 1 && used == 0)) FAIL("after huge: %d %u", e, used);
	// renumber a listed fd and keep listing
	__wasi_fd_t f, g;
	if (__wasi_path_open(d, 0, ".", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR, 0, 0, &f) == 0 &&
	    __wasi_path_open(d, 0, ".", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR, 0, 0, &g) == 0) {
		__wasi_fd_readdir(f, pbuf, 40, 0, &used);
		__wasi_fd_readdir(g, pbuf, 40, 0, &used);
		if (__wasi_fd_renumber(f, g)) FAIL("renumber");
		e = __wasi_fd_readdir(g, pbuf, sizeof pbuf, 1, &used);
		char *tn[600]; uint64_t tx[600];
		int k = parse(pbuf, used, tn, tx, 600);
		if (e || (n > 1 && (k == 0 || strcmp(tn[0], names[1])))) FAIL("renumbered listing");
		__wasi_fd_close(g);
		if (__wasi_fd_readdir(f, pbuf, sizeof pbuf, 0, &used) != __WASI_ERRNO_BADF) FAIL("closed fd listed");
	}
out:
	printf("fails=%d\ndone\n", fails);
	return fails ? 1 : 0;
}
