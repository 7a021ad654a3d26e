// dirwalk.c: a command that makes WASI directory calls as costly for the
// host as it can, given a directory preopened at /d. argv[1] is the mode:
//   listings N  opens /d N times and lists the first entries of each with
//               a 64-byte buffer; then, called by the host, answers with
//               how many it listed and waits for ever, holding them all.
//   relist      lists /d from cookie 0, over and over.
//   deepstat P  stats path P under /d, over and over.
//   deepopen P  opens path P under /d, over and over.
//   deeplink P  hard-links path P, its final symlinks followed, to "new",
//               over and over.
//   churn N     N rounds of ordinary file work (create, write, stat,
//               mkdir, rename, unlink, rmdir), then exits 0.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2 -I sdk/c
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>
#include "preopen_d.h"
#include "isle.h"

static void listings(__wasi_fd_t d, int n) {
	uint32_t listed = 0;
	for (int i = 0; i < n; i++) {
		__wasi_fd_t f;
		uint8_t buf[64];
		__wasi_size_t used;
		if (__wasi_path_open(d, 0, ".", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR, 0, 0, &f) != 0)
			break;
		if (__wasi_fd_readdir(f, buf, sizeof buf, 0, &used) != 0 || used == 0)
			break;
		listed++;
	}
	isle_info_t info;
	isle_recv(NULL, 0, 0, 0, ISLE_FOREVER, &info);
	isle_reply((isle_handle_t)info.aux, 1, &listed, sizeof listed, NULL, 0);
	isle_recv(NULL, 0, 99, 0xffffffffu, ISLE_FOREVER, &info);
}

static int churn(__wasi_fd_t d, int n) {
	__wasi_filestat_t st;
	for (int i = 0; i < n; i++) {
		__wasi_fd_t f;
		char name[] = "f0";
		name[1] = 'a' + i % 16;
		if (__wasi_path_open(d, 0, name, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC,
		                     __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_READ, 0, 0, &f) != 0)
			return 3;
		__wasi_ciovec_t iov = {(const uint8_t *)"hello world\n", 12};
		__wasi_size_t w;
		__wasi_fd_write(f, &iov, 1, &w);
		__wasi_fd_close(f);
		if (__wasi_path_filestat_get(d, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, name, &st) != 0 ||
		    __wasi_path_create_directory(d, "sub") != 0 ||
		    __wasi_path_rename(d, name, d, "sub/x") != 0 ||
		    __wasi_path_filestat_get(d, 0, "sub/x", &st) != 0 ||
		    __wasi_path_unlink_file(d, "sub/x") != 0 ||
		    __wasi_path_remove_directory(d, "sub") != 0)
			return 4;
	}
	return 0;
}

int main(int argc, char **argv) {
	__wasi_fd_t d = preopen();
	if (d == (__wasi_fd_t)-1 || argc < 2) return 2;
	if (!strcmp(argv[1], "listings")) listings(d, argc > 2 ? atoi(argv[2]) : 100);
	uint8_t buf[64];
	__wasi_size_t used;
	__wasi_filestat_t st;
	if (!strcmp(argv[1], "relist"))
		for (;;) __wasi_fd_readdir(d, buf, sizeof buf, 0, &used);
	if (!strcmp(argv[1], "deepstat") && argc > 2)
		for (;;) __wasi_path_filestat_get(d, 0, argv[2], &st);
	if (!strcmp(argv[1], "deepopen") && argc > 2)
		for (;;) {
			__wasi_fd_t f;
			if (__wasi_path_open(d, 0, argv[2], 0, __WASI_RIGHTS_FD_READ, 0, 0, &f) == 0)
				__wasi_fd_close(f);
		}
	if (!strcmp(argv[1], "deeplink") && argc > 2)
		for (;;) __wasi_path_link(d, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, argv[2], d, "new");
	if (!strcmp(argv[1], "churn") && argc > 2) return churn(d, atoi(argv[2]));
	return 1;
}
