// WASI conformance: poll_oneoff, clocks, processes, randomness, args and
// environment. Run with a preopen at /scratch, the environment A=1 and
// B=22, entropy, and stdin a pipe that receives "ping\n" and then end of
// file once this program prints "need-input". It exits with code 7.
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static void check(const char *name, long long got, long long want) {
	if (got == want)
		printf("ok %s\n", name);
	else
		printf("FAIL %s: got %lld want %lld\n", name, got, want);
}
#define EQ(name, got, want) check(name, (long long)(got), (long long)(want))
#define TRUE(name, cond) check(name, !!(cond), 1)

#define E(x) __WASI_ERRNO_##x

// wasi-libc's header no longer declares proc_raise; preview1 still has it.
__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise")))
uint16_t raw_proc_raise(uint32_t sig);

static __wasi_subscription_t clock_sub(__wasi_userdata_t ud, __wasi_clockid_t id, __wasi_timestamp_t t, int abs) {
	__wasi_subscription_t s;
	memset(&s, 0, sizeof s);
	s.userdata = ud;
	s.u.tag = __WASI_EVENTTYPE_CLOCK;
	s.u.u.clock.id = id;
	s.u.u.clock.timeout = t;
	s.u.u.clock.flags = abs ? __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME : 0;
	return s;
}

static __wasi_subscription_t fd_sub(__wasi_userdata_t ud, __wasi_eventtype_t type, __wasi_fd_t fd) {
	__wasi_subscription_t s;
	memset(&s, 0, sizeof s);
	s.userdata = ud;
	s.u.tag = type;
	s.u.u.fd_read.file_descriptor = fd;
	return s;
}

static __wasi_timestamp_t now(__wasi_clockid_t id) {
	__wasi_timestamp_t t = 0;
	(void)__wasi_clock_time_get(id, 1, &t);
	return t;
}

static void clocks(void) {
	__wasi_event_t ev[4];
	__wasi_size_t n = 99;
	__wasi_subscription_t s[4];
	EQ("poll_oneoff/no-subscriptions", __wasi_poll_oneoff(s, ev, 0, &n), E(INVAL));
	EQ("poll_oneoff/huge-count", __wasi_poll_oneoff(s, ev, 0x7fffffff, &n), E(FAULT));
	s[0] = clock_sub(42, __WASI_CLOCKID_MONOTONIC, 1000000, 0);
	EQ("poll_oneoff/relative-clock", __wasi_poll_oneoff(s, ev, 1, &n), 0);
	TRUE("poll_oneoff/relative-clock-event", n == 1 && ev[0].userdata == 42 && ev[0].type == __WASI_EVENTTYPE_CLOCK && ev[0].error == 0);
	s[0] = clock_sub(7, __WASI_CLOCKID_REALTIME, 1, 1);
	EQ("poll_oneoff/absolute-past", __wasi_poll_oneoff(s, ev, 1, &n), 0);
	TRUE("poll_oneoff/absolute-past-event", n == 1 && ev[0].userdata == 7);
	__wasi_timestamp_t t0 = now(__WASI_CLOCKID_MONOTONIC);
	s[0] = clock_sub(1, __WASI_CLOCKID_MONOTONIC, t0 + 2000000, 1);
	s[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, 3600000000000ull, 0);
	EQ("poll_oneoff/first-deadline", __wasi_poll_oneoff(s, ev, 2, &n), 0);
	TRUE("poll_oneoff/first-deadline-only", n == 1 && ev[0].userdata == 1);
	TRUE("poll_oneoff/absolute-waited", now(__WASI_CLOCKID_MONOTONIC) >= t0 + 2000000);
	s[0] = clock_sub(3, 9, 1, 0);
	__wasi_errno_t e = __wasi_poll_oneoff(s, ev, 1, &n);
	TRUE("poll_oneoff/invalid-clock", e == E(INVAL) || (e == 0 && n == 1 && ev[0].error == E(INVAL)));

	__wasi_timestamp_t res;
	EQ("clock_res_get/realtime", __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &res), 0);
	TRUE("clock_res_get/positive", res > 0);
	EQ("clock_res_get/bad-id", __wasi_clock_res_get(9, &res), E(INVAL));
	__wasi_timestamp_t a = now(__WASI_CLOCKID_MONOTONIC), b = now(__WASI_CLOCKID_MONOTONIC);
	TRUE("clock_time_get/monotonic", b >= a);
	EQ("clock_time_get/bad-id", __wasi_clock_time_get(9, 1, &res), E(INVAL));
	TRUE("clock_time_get/realtime-after-2000", now(__WASI_CLOCKID_REALTIME) >= 946684800000000000ull);
}

static void descriptors(void) {
	__wasi_event_t ev[4];
	__wasi_size_t n = 99;
	__wasi_subscription_t s[4];
	s[0] = fd_sub(5, __WASI_EVENTTYPE_FD_READ, 99);
	EQ("poll_oneoff/bad-fd", __wasi_poll_oneoff(s, ev, 1, &n), 0);
	TRUE("poll_oneoff/bad-fd-event", n == 1 && ev[0].userdata == 5 && ev[0].error == E(BADF));
	s[0] = fd_sub(6, __WASI_EVENTTYPE_FD_READ, 1);
	EQ("poll_oneoff/read-stdout", __wasi_poll_oneoff(s, ev, 1, &n), 0);
	TRUE("poll_oneoff/read-stdout-event", n == 1 && ev[0].error == E(BADF));

	__wasi_timestamp_t t0 = now(__WASI_CLOCKID_MONOTONIC);
	s[0] = fd_sub(8, __WASI_EVENTTYPE_FD_WRITE, 1);
	s[1] = clock_sub(9, __WASI_CLOCKID_MONOTONIC, 10000000000ull, 0);
	EQ("poll_oneoff/stdout-writable", __wasi_poll_oneoff(s, ev, 2, &n), 0);
	TRUE("poll_oneoff/stdout-writable-event", n == 1 && ev[0].userdata == 8 && ev[0].type == __WASI_EVENTTYPE_FD_WRITE && ev[0].error == 0);
	TRUE("poll_oneoff/stdout-writable-no-sleep", now(__WASI_CLOCKID_MONOTONIC) - t0 < 10000000000ull);
	s[0] = fd_sub(10, __WASI_EVENTTYPE_FD_WRITE, 1);
	printf("# stdout alone\n");
	EQ("poll_oneoff/stdout-alone", __wasi_poll_oneoff(s, ev, 1, &n), 0);
	TRUE("poll_oneoff/stdout-alone-event", n == 1 && ev[0].userdata == 10 && ev[0].error == 0);

	__wasi_fd_t P = 3, f;
	__wasi_rights_t all = (1ull << 30) - 1;
	EQ("poll_oneoff/file-setup", __wasi_path_open(P, 0, "f", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, all, all, 0, &f), 0);
	__wasi_ciovec_t iov = {(const uint8_t *)"12345", 5};
	__wasi_size_t w;
	(void)__wasi_fd_pwrite(f, &iov, 1, 0, &w);
	s[0] = fd_sub(11, __WASI_EVENTTYPE_FD_READ, f);
	s[1] = fd_sub(12, __WASI_EVENTTYPE_FD_WRITE, f);
	EQ("poll_oneoff/file", __wasi_poll_oneoff(s, ev, 2, &n), 0);
	TRUE("poll_oneoff/file-both-ready", n == 2 && ev[0].error == 0 && ev[1].error == 0);
	TRUE("poll_oneoff/file-read-nbytes", ev[0].userdata == 11 && ev[0].fd_readwrite.nbytes == 5);
	(void)__wasi_fd_close(f);
}

static void input(void) {
	__wasi_event_t ev[2];
	__wasi_size_t n = 99;
	__wasi_subscription_t s[2];
	s[0] = fd_sub(20, __WASI_EVENTTYPE_FD_READ, 0);
	s[1] = clock_sub(21, __WASI_CLOCKID_MONOTONIC, 1000000, 0);
	EQ("poll_oneoff/stdin-empty", __wasi_poll_oneoff(s, ev, 2, &n), 0);
	TRUE("poll_oneoff/stdin-empty-clock-fires", n == 1 && ev[0].userdata == 21);
	printf("need-input\n");
	EQ("poll_oneoff/stdin-wait", __wasi_poll_oneoff(s, ev, 1, &n), 0);
	TRUE("poll_oneoff/stdin-ready", n == 1 && ev[0].userdata == 20 && ev[0].error == 0 && ev[0].fd_readwrite.nbytes > 0);
	char buf[16] = {0};
	__wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
	__wasi_size_t got = 0;
	size_t total = 0;
	while (total < 5 && __wasi_fd_read(0, &iov, 1, &got) == 0 && got > 0) {
		total += got;
		iov.buf += got;
		iov.buf_len -= got;
	}
	TRUE("poll_oneoff/stdin-keeps-bytes", total == 5 && memcmp(buf, "ping\n", 5) == 0);
	EQ("poll_oneoff/stdin-eof", __wasi_poll_oneoff(s, ev, 1, &n), 0);
	TRUE("poll_oneoff/stdin-eof-hangup", n == 1 && ev[0].error == 0 && (ev[0].fd_readwrite.flags & __WASI_EVENTRWFLAGS_FD_READWRITE_HANGUP));
	EQ("fd_read/eof", __wasi_fd_read(0, &iov, 1, &got), 0);
	EQ("fd_read/eof-zero", got, 0);
}

static void process(void) {
	EQ("sched_yield/ok", __wasi_sched_yield(), 0);
	EQ("proc_raise/notsup", raw_proc_raise(15), E(NOTSUP));
	uint8_t r[64] = {0};
	EQ("random_get/ok", __wasi_random_get(r, sizeof r), 0);
	int nonzero = 0;
	for (size_t i = 0; i < sizeof r; i++)
		nonzero += r[i] != 0;
	TRUE("random_get/filled", nonzero > 0);
	__wasi_size_t count, size;
	EQ("environ_sizes_get/ok", __wasi_environ_sizes_get(&count, &size), 0);
	TRUE("environ_sizes_get/values", count == 2 && size == 9);
	uint8_t *ptrs[2];
	uint8_t buf[9];
	EQ("environ_get/ok", __wasi_environ_get(ptrs, buf), 0);
	TRUE("environ_get/values", strcmp((char *)ptrs[0], "A=1") == 0 && strcmp((char *)ptrs[1], "B=22") == 0);
	EQ("args_sizes_get/ok", __wasi_args_sizes_get(&count, &size), 0);
	TRUE("args_sizes_get/one", count == 1 && size == 5);
	uint8_t *argv[1];
	uint8_t abuf[5];
	EQ("args_get/ok", __wasi_args_get(argv, abuf), 0);
	TRUE("args_get/values", strcmp((char *)argv[0], "poll") == 0);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0); // a hang must not lose earlier lines
	clocks();
	process();
	descriptors();
	input();
	printf("done\n");
	__wasi_proc_exit(7);
}
