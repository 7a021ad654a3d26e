// preopen_d.h: the descriptor of the directory preopened at /d, or -1.
// Shared by the WASI file-system guests (dirwalk.c, linkchain.c,
// readdircheck.c).
#include <string.h>
#include <wasi/api.h>

static __wasi_fd_t preopen(void) {
	for (__wasi_fd_t fd = 3; fd < 64; fd++) {
		__wasi_prestat_t ps;
		char name[8] = {0};
		if (__wasi_fd_prestat_get(fd, &ps) == 0 && ps.u.dir.pr_name_len == 2 &&
		    __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, 2) == 0 && !memcmp(name, "/d", 2))
			return fd;
	}
	return (__wasi_fd_t)-1;
}
