// Blocks in one WASI call until killed. argv[1] picks the call: "write"
// (stdout, which nobody reads), "read" (stdin, which nobody writes),
// "poll" (poll_oneoff on stdin alone), "pollout" (poll_oneoff on stdout
// alone, after filling it) or "sleep" (poll_oneoff on an hour's clock).
// It prints "blocking" on stderr just before.
#include <string.h>
#include <wasi/api.h>

static char chunk[65536];

static void say(const char *s) {
	__wasi_ciovec_t iov = {(const uint8_t *)s, strlen(s)};
	__wasi_size_t n;
	(void)__wasi_fd_write(2, &iov, 1, &n);
}

static void poll1(__wasi_eventtype_t type, __wasi_fd_t fd, __wasi_timestamp_t timeout) {
	__wasi_subscription_t s;
	__wasi_event_t ev;
	__wasi_size_t n;
	memset(&s, 0, sizeof s);
	s.u.tag = type;
	if (type == __WASI_EVENTTYPE_CLOCK) {
		s.u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
		s.u.u.clock.timeout = timeout;
	} else {
		s.u.u.fd_read.file_descriptor = fd;
	}
	(void)__wasi_poll_oneoff(&s, &ev, 1, &n);
}

int main(int argc, char **argv) {
	const char *mode = argc > 1 ? argv[1] : "";
	__wasi_ciovec_t out = {(const uint8_t *)chunk, sizeof chunk};
	__wasi_size_t n;
	if (strcmp(mode, "pollout") == 0) {
		(void)__wasi_fd_write(1, &out, 1, &n); // fills the queue
		(void)__wasi_fd_write(1, &out, 1, &n);
		say("blocking\n");
		for (;;)
			poll1(__WASI_EVENTTYPE_FD_WRITE, 1, 0);
	}
	say("blocking\n");
	if (strcmp(mode, "write") == 0)
		for (;;)
			(void)__wasi_fd_write(1, &out, 1, &n);
	if (strcmp(mode, "read") == 0) {
		uint8_t b[16];
		__wasi_iovec_t in = {b, sizeof b};
		for (;;)
			(void)__wasi_fd_read(0, &in, 1, &n);
	}
	if (strcmp(mode, "poll") == 0)
		for (;;)
			poll1(__WASI_EVENTTYPE_FD_READ, 0, 0);
	if (strcmp(mode, "sleep") == 0)
		for (;;)
			poll1(__WASI_EVENTTYPE_CLOCK, 0, 3600000000000ull);
	return 1;
}
