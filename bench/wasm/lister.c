// lister.c: a WASI command for the files workload. With no argument
// beyond its name it lists the directory preopened at fd 3 from cookie 0
// to its end, through a 4 KiB buffer as libc would, ROUNDS times; with
// "stat" it stats the path a/a/.../a, 16 levels deep in that directory,
// STATS times; with "link" it stats l/a/.../a, the same directory through
// the symlink l -> a, STATS times; with "open" it opens that directory and
// closes it, STATS times. It calls WASI's functions directly, so it needs no libc
// and runs the same under isle and bare wazero.
#include <stdint.h>

#define WASI(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
WASI(fd_readdir) int32_t fd_readdir(int32_t fd, uint8_t *buf, int32_t len, int64_t cookie, uint32_t *used);
WASI(path_filestat_get) int32_t path_filestat_get(int32_t fd, int32_t flags, const char *path, int32_t len, uint8_t *out);
WASI(path_open) int32_t path_open(int32_t fd, int32_t dirflags, const char *path, int32_t len, int32_t oflags,
                                  int64_t base, int64_t inheriting, int32_t fdflags, int32_t *opened);
WASI(fd_close) int32_t fd_close(int32_t fd);
WASI(args_sizes_get) int32_t args_sizes_get(uint32_t *argc, uint32_t *size);
WASI(args_get) int32_t args_get(uint8_t **argv, uint8_t *buf);

enum { ROUNDS = 20, STATS = 1000, HEAD = 24 };

static uint8_t buf[4096];
static uint8_t filestat[64];
static const char deep[] = "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a";
static const char linked[] = "l/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a";

static uint64_t le64(const uint8_t *b) {
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
	return v;
}

// list reads the directory once, from cookie 0 to its end.
static void list(void) {
	uint64_t cookie = 0;
	for (;;) {
		uint32_t used = 0;
		if (fd_readdir(3, buf, sizeof buf, (int64_t)cookie, &used) != 0) return;
		uint32_t off = 0;
		while (off + HEAD <= used) {
			uint32_t namlen = (uint32_t)le64(buf + off + 16) & 0xffffffffu;
			if (off + HEAD + namlen > used) break;
			cookie = le64(buf + off);
			off += HEAD + namlen;
		}
		if (used < sizeof buf) return;
	}
}

__attribute__((export_name("_start"))) void start(void) {
	static uint8_t *argv[4];
	static uint8_t args[64];
	uint32_t argc = 0, size = 0;
	int mode = 0;
	if (args_sizes_get(&argc, &size) == 0 && argc >= 2 && argc <= 4 && size <= sizeof args &&
	    args_get(argv, args) == 0)
		mode = argv[1][0];
	if (mode == 'o') {
		for (int i = 0; i < STATS; i++) {
			int32_t fd;
			// O_DIRECTORY, with the rights a listing needs (fd_readdir).
			if (path_open(3, 0, deep, sizeof deep - 1, 2, 1 << 14, 0, 0, &fd) == 0) fd_close(fd);
		}
		return;
	}
	if (mode == 'l') {
		for (int i = 0; i < STATS; i++) path_filestat_get(3, 0, linked, sizeof linked - 1, filestat);
		return;
	}
	if (mode == 's') {
		for (int i = 0; i < STATS; i++) path_filestat_get(3, 0, deep, sizeof deep - 1, filestat);
		return;
	}
	for (int i = 0; i < ROUNDS; i++) list();
}
