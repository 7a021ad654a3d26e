// fdhog.c: a command that takes every host descriptor it can. Granted
// "dir" (holding a file "f") and "spawner", it is a tree's root: the host
// calls it with a count of children, and it spawns them, giving each a
// copy of its directory handle and a handle to itself, opens "f" itself
// until open fails, and answers once every child has reported, with the
// tree's tally: {files opened, opens that failed with EMFILE, with
// ENFILE, with anything else}. A child opens "f" until open fails,
// reports its tally, and then, like the root, waits for ever, holding
// everything it opened.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2 -I sdk/c
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include "isle.h"

enum { TAG_REPORT = 2, TAG_NEVER = 99 };

typedef struct {
	uint32_t opened, mfile, nfile, other;
} tally_t;

static void hog(isle_handle_t dir, tally_t *t) {
	char path[32];
	snprintf(path, sizeof path, "/.cap/%d/f", (int)dir);
	while (open(path, O_RDONLY) >= 0) t->opened++;
	if (errno == EMFILE) t->mfile++;
	else if (errno == ENFILE) t->nfile++;
	else t->other++;
}

int main(void) {
	isle_info_t info;
	tally_t t = {0};
	isle_handle_t dir = isle_grant_str("dir");
	if (dir > 0) {
		isle_handle_t sp = isle_grant_str("spawner");
		uint32_t kids = 0, spawned = 0;
		isle_recv(&kids, sizeof kids, 0, 0, ISLE_FOREVER, &info);
		isle_handle_t reply = (isle_handle_t)info.aux;
		for (; spawned < kids; spawned++) {
			isle_handle_t gift[2] = {isle_dup(dir, ISLE_RIGHT_READ), isle_dup(isle_self(), ISLE_RIGHT_SEND)};
			if (gift[0] < 0 || gift[1] < 0) break;
			if (isle_spawn(sp, "fdhog", 5, NULL, 0, gift, 2, 0) < 0) break;
		}
		hog(dir, &t);
		for (uint32_t i = 0; i < spawned; i++) {
			tally_t k;
			if (isle_recv(&k, sizeof k, TAG_REPORT, 0xffffffffu, ISLE_FOREVER, &info) < 0) break;
			t.opened += k.opened, t.mfile += k.mfile, t.nfile += k.nfile, t.other += k.other;
		}
		isle_reply(reply, 1, &t, sizeof t, NULL, 0);
	} else {
		isle_handle_t h[ISLE_MAX_HANDLES];
		isle_recv(NULL, 0, 0, 0, ISLE_FOREVER, &info); // the init message
		if (isle_msg_handles(h, ISLE_MAX_HANDLES) < 2) return 3;
		hog(h[0], &t);
		isle_send(h[1], TAG_REPORT, &t, sizeof t, NULL, 0, 0);
	}
	isle_recv(NULL, 0, TAG_NEVER, 0xffffffffu, ISLE_FOREVER, &info);
	return 0;
}
