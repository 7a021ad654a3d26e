// A reactor whose every turn blocks in WASI: it says "blocking" on stderr
// and then waits in poll_oneoff for stdin, which nobody writes, until it
// is killed. Built with -mexec-model=reactor.
#include <string.h>
#include <wasi/api.h>
#include "isle.h"

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	__wasi_ciovec_t iov = {(const uint8_t *)"blocking\n", 9};
	__wasi_size_t n;
	(void)__wasi_fd_write(2, &iov, 1, &n);
	__wasi_subscription_t s;
	__wasi_event_t ev;
	memset(&s, 0, sizeof s);
	s.u.tag = __WASI_EVENTTYPE_FD_READ;
	s.u.u.fd_read.file_descriptor = 0;
	for (;;)
		(void)__wasi_poll_oneoff(&s, &ev, 1, &n);
}
