// fd 3 is the first free descriptor of a process given no directories.
// Built with -DRECV, the program imports isle's recv, so it can receive
// directory handles and gets the /.cap preopen at fd 3 instead.
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <wasi/api.h>

#ifdef RECV
__attribute__((import_module("isle"), import_name("recv")))
int32_t isle_recv(void *buf, uint32_t cap, uint32_t match, uint32_t mask, int64_t timeout, void *info);
volatile int never;
#endif

int main(void) {
#ifdef RECV
	if (never)
		isle_recv(0, 0, 0, 0, 0, 0);
#endif
	__wasi_fdstat_t st;
	__wasi_prestat_t ps;
	__wasi_errno_t e = __wasi_fd_fdstat_get(3, &st);
	printf("fdstat3 %d\n", e);
	if (__wasi_fd_prestat_get(3, &ps) == 0) {
		char name[16] = {0};
		if (ps.u.dir.pr_name_len < sizeof name &&
		    __wasi_fd_prestat_dir_name(3, (uint8_t *)name, ps.u.dir.pr_name_len) == 0)
			printf("preopen3 %s\n", name);
	}
	return 0;
}
