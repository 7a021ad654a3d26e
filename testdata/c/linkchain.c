// linkchain.c: on a directory preopened at /d, argv[1] is the mode:
//   build D  makes a/a/.../a (D levels) holding f and symlinks L1..L38
//            (each to the next, L38 to f), and L0 -> a/.../a/L1, with
//            calls on paths at most 2 levels deep (renames deepen it);
//   link     calls path_link with SYMLINK_FOLLOW on L0, over and over.
// Written by an outside review. Built by internal/testwasm: clang
// --target=wasm32-wasi -O2
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>
#include "preopen_d.h"
#define CK(e) do { int _e = (e); if (_e) { printf("FAIL %s: %d\n", #e, _e); return 1; } } while (0)
int main(int argc, char **argv) {
	__wasi_fd_t d = preopen();
	if (d == (__wasi_fd_t)-1 || argc < 2) return 2;
	if (!strcmp(argv[1], "build")) {
		int depth = atoi(argv[2]);
		__wasi_fd_t f;
		CK(__wasi_path_create_directory(d, "a"));
		CK(__wasi_path_open(d, 0, "a/f", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &f));
		__wasi_fd_close(f);
		char name[16], target[16];
		for (int i = 1; i <= 38; i++) {
			snprintf(name, sizeof name, "a/L%d", i);
			if (i == 38) snprintf(target, sizeof target, "f");
			else snprintf(target, sizeof target, "L%d", i + 1);
			CK(__wasi_path_symlink(target, d, name));
		}
		for (int i = 1; i < depth; i++) {
			CK(__wasi_path_create_directory(d, "b"));
			CK(__wasi_path_rename(d, "a", d, "b/a"));
			CK(__wasi_path_rename(d, "b", d, "a"));
		}
		char *t = malloc(2 * depth + 8), *p = t;
		for (int i = 0; i < depth; i++) { *p++ = 'a'; *p++ = '/'; }
		strcpy(p, "L1");
		CK(__wasi_path_symlink(t, d, "L0"));
		printf("built\n");
		return 0;
	}
	for (;;) __wasi_path_link(d, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "L0", d, "new");
}
