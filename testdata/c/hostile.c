// hostile.c: a command that attacks the node's governance, one attack per
// mode. The mode is argv[1] for the process the host starts, and the init
// message for the children it spawns (from the spawner granted as
// "spawner", under the name "hostile"). Each mode prints what it achieved
// on stdout, so the host can compare it with what it measured itself.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2 -I sdk/c hostile.c
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "isle.h"

static isle_handle_t spawn_mode(const char *mode, uint32_t flags) {
	return isle_spawn(isle_grant_str("spawner"), "hostile", 7, mode, strlen(mode), NULL, 0, flags);
}

// stdout: one write far larger than any pipe, to an output nobody reads.
static void flood_stdout(void) {
	size_t n = 4 << 20;
	char *buf = malloc(n);
	memset(buf, 'x', n);
	fprintf(stderr, "writing\n");
	for (;;) write(1, buf, n);
}

// hog: take memory a mebibyte at a time, touching every page, until the
// allocator fails; then wait forever. Reports how much it got.
static char *volatile held[4096]; // volatile: the compiler must not elide the allocations

static void hog(void) {
	size_t got = 0;
	for (; got < 4096; got++) {
		char *p = malloc(1 << 20);
		if (!p) break;
		memset(p, 1, 1 << 20);
		held[got] = p;
	}
	printf("hog %zu MiB\n", got);
	fflush(stdout);
}

// hogs: spawn hogging children, monitored, until spawn fails; each would
// have had its own memory limit if limits were per process. Then wait
// until every child has ended. (Down messages are always delivered; a
// plain message in a full tree would not be.)
static void hogs(void) {
	int n = 0;
	for (; n < 200; n++) {
		isle_handle_t h = spawn_mode("hog", ISLE_SPAWN_STDIO);
		if (h < 0) break;
		if (isle_monitor(h) < 0) break;
		isle_close(h);
	}
	printf("hogs spawned %d\n", n);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		isle_info_t info;
		isle_recv(NULL, 0, ISLE_TAG_DOWN, 0xFFFFFFFFu, ISLE_FOREVER, &info);
	}
	printf("hogs done\n");
	fflush(stdout);
}

// movers: spawn MOVERS children that each fill 64 MiB of linear memory (a
// first region: see internal/linmem) and then, told to together, each
// grow 1 MiB past it, so that all of them move to a larger region at
// once. A move that copied would hold 64 MiB twice while it ran, beyond
// what any account charges. Reports how many children it had.
#define MOVERS 6
static void movers(void) {
	isle_handle_t kids[MOVERS];
	isle_info_t info;
	int n = 0;
	for (; n < MOVERS; n++) {
		isle_handle_t me = isle_self();
		kids[n] = isle_spawn(isle_grant_str("spawner"), "hostile", 7, "mover", 5, &me, 1, ISLE_SPAWN_STDIO);
		if (kids[n] < 0 || isle_monitor(kids[n]) < 0) break;
	}
	char c;
	for (int i = 0; i < n; i++) isle_recv(&c, 1, 8, 0xFFFFFFFFu, ISLE_FOREVER, &info);
	for (int i = 0; i < n; i++) isle_send(kids[i], 9, "g", 1, NULL, 0, 0);
	for (int i = 0; i < n; i++) isle_recv(NULL, 0, ISLE_TAG_DOWN, 0xFFFFFFFFu, ISLE_FOREVER, &info);
	printf("movers done: %d\n", n);
	fflush(stdout);
}

// touch writes every page of linear memory in [from, to).
static void touch(size_t from, size_t to) {
	for (size_t a = from; a < to; a += 4096) *(volatile char *)a = 1;
}

// mover: a child of movers.
static void mover(isle_handle_t parent) {
	size_t page = 65536, have = __builtin_wasm_memory_size(0), first = (64 << 20) / page;
	if (have < first && __builtin_wasm_memory_grow(0, first - have) == (size_t)-1) {
		printf("mover: could not grow to 64 MiB\n");
		return;
	}
	touch(have * page, first * page);
	isle_send(parent, 8, "r", 1, NULL, 0, 0);
	isle_info_t info;
	char c;
	isle_recv(&c, 1, 9, 0xFFFFFFFFu, ISLE_FOREVER, &info);
	if (__builtin_wasm_memory_grow(0, 16) == (size_t)-1) {
		printf("mover: could not grow past 64 MiB\n");
		return;
	}
	touch(first * page, (first + 16) * page);
}

// chain: spin a while, then hand on to a child of the next generation,
// linked so that a death anywhere ends the chain. Each generation would
// get a fresh budget if budgets were per process.
static void chain(void) {
	volatile uint64_t x = 0;
	for (uint32_t i = 0; i < 2000000; i++) x += i;
	isle_handle_t h = spawn_mode("chain", ISLE_SPAWN_LINK | ISLE_SPAWN_STDIO);
	if (h < 0) {
		printf("chain stopped: spawn %d\n", h);
		fflush(stdout);
	}
	isle_info_t info;
	isle_recv(NULL, 0, 0, 0, ISLE_FOREVER, &info);
}

// sleepers: spawn n children that wait forever, then wait too.
static void sleepers(int n) {
	for (int i = 0; i < n; i++)
		if (spawn_mode("sleep", 0) < 0) break;
	printf("sleepers up\n");
	fflush(stdout);
	isle_info_t info;
	isle_recv(NULL, 0, 0, 0, ISLE_FOREVER, &info);
}

// links: link to a dead process over and over, trapping exits, so that
// every link queues a noproc signal. Reports how many it got in.
static void links(void) {
	isle_handle_t h = spawn_mode("exit", 0);
	if (h < 0) { printf("links: spawn %d\n", h); return; }
	int32_t ref = isle_monitor(h);
	isle_info_t info;
	isle_recv(NULL, 0, ISLE_TAG_DOWN, 0xFFFFFFFFu, ISLE_FOREVER, &info);
	(void)ref;
	isle_trap_exits(1);
	int32_t r = 0;
	long n = 0;
	for (; n < 10000000; n++)
		if ((r = isle_link(h)) < 0) break;
	printf("links %ld then %d\n", n, r);
}

// alias: reuse one handle slot over and over and look for a handle number
// that repeats one closed before: a stale handle naming a new right.
static void alias(void) {
	isle_handle_t first = isle_dup(isle_self(), 0);
	isle_close(first);
	long repeats = 0, n = 0;
	int32_t err = 0;
	for (; n < 100000; n++) {
		isle_handle_t h = isle_dup(isle_self(), 0);
		if (h < 0) { err = h; break; }
		if (h == first) repeats++;
		isle_close(h);
	}
	printf("alias %ld dups, %ld repeats, error %d\n", n, repeats, err);
}

// forge: send a message carrying the init tag to itself.
static void forge(void) {
	isle_send(isle_self(), ISLE_TAG_INIT, "x", 1, NULL, 0, ISLE_SEND_NONBLOCK);
	printf("forged\n");
}

// initfirst: spawn n children that each check that their first message,
// looked for without waiting, is their init message; count those that
// found none.
static void initfirst(int n) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		isle_handle_t me = isle_dup(isle_self(), 1); // send only; the spawn moves it
		isle_handle_t h = isle_spawn(isle_grant_str("spawner"), "hostile", 7, "initcheck", 9, &me, 1,
		                             ISLE_SPAWN_STDIO);
		if (h < 0) { printf("initfirst: spawn %d\n", h); return; }
		isle_info_t info;
		char ok;
		if (isle_recv(&ok, 1, 7, 0xFFFFFFFFu, ISLE_FOREVER, &info) != 1) { printf("initfirst: recv\n"); return; }
		if (ok != 'y') bad++;
		isle_close(h);
	}
	printf("initfirst %d of %d missed their init\n", bad, n);
}

// child handles the mode its init message names.
static void child(void) {
	char mode[32] = {0};
	isle_info_t info;
	int32_t n = isle_recv(mode, sizeof mode - 1, 0, 0, 0, &info);
	if (n == 9 && info.tag == ISLE_TAG_INIT && !memcmp(mode, "initcheck", 9)) {
		isle_handle_t parent = -1;
		isle_msg_handles(&parent, 1);
		isle_send(parent, 7, "y", 1, NULL, 0, 0);
		return;
	}
	if (n < 0 || info.tag != ISLE_TAG_INIT) {
		// No init message yet: the spawner started us before queuing it.
		if (isle_recv(mode, sizeof mode - 1, ISLE_TAG_INIT, 0xFFFFFFFFu, ISLE_FOREVER, &info) == 9) {
			isle_handle_t parent = -1;
			isle_msg_handles(&parent, 1);
			isle_send(parent, 7, "n", 1, NULL, 0, 0);
		}
		return;
	}
	if (!strcmp(mode, "exit")) return;
	if (n == 5 && !memcmp(mode, "mover", 5)) {
		isle_handle_t parent = -1;
		isle_msg_handles(&parent, 1);
		mover(parent);
		return;
	}
	if (!strcmp(mode, "hog")) hog();
	if (!strcmp(mode, "chain")) chain();
	if (!strcmp(mode, "sleep")) {
		isle_recv(NULL, 0, 0, 0, ISLE_FOREVER, &info);
	}
}

// spawns: spawn children that wait forever until spawn fails, and say how
// many and why.
static void spawns(void) {
	int n = 0;
	isle_handle_t h;
	while ((h = spawn_mode("sleep", 0)) >= 0) n++;
	printf("spawned %d, then %d\n", n, h);
}

// files: open path until open fails, and say how many and why.
static void files(const char *path) {
	int n = 0;
	while (open(path, O_RDONLY) >= 0) n++;
	printf("opened %d, then %s\n", n, errno == EMFILE ? "EMFILE" : errno == ENFILE ? "ENFILE" : "another error");
}

int main(int argc, char **argv) {
	if (argc < 2) {
		child();
		return 0;
	}
	const char *m = argv[1];
	int n = argc > 2 ? atoi(argv[2]) : 100;
	if (!strcmp(m, "stdout")) flood_stdout();
	else if (!strcmp(m, "hog")) hog();
	else if (!strcmp(m, "hogs")) hogs();
	else if (!strcmp(m, "movers")) movers();
	else if (!strcmp(m, "chain")) chain();
	else if (!strcmp(m, "sleepers")) sleepers(n);
	else if (!strcmp(m, "links")) links();
	else if (!strcmp(m, "alias")) alias();
	else if (!strcmp(m, "forge")) forge();
	else if (!strcmp(m, "initfirst")) initfirst(n);
	else if (!strcmp(m, "spawns")) spawns();
	else if (!strcmp(m, "files") && argc > 2) files(argv[2]);
	else if (!strcmp(m, "spawnstart")) {
		// A child whose start function blocks: the spawn never returns.
		printf("spawning\n");
		fflush(stdout);
		isle_handle_t h = isle_spawn(isle_grant_str("spawner"), "startrecv", 9, NULL, 0, NULL, 0, 0);
		printf("spawnstart returned %d\n", h);
	}
	else { fprintf(stderr, "unknown mode %s\n", m); return 2; }
	return 0;
}
