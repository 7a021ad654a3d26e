// pipes.c: message passing between OS processes over Unix pipes.
//
//	pipes pingpong N       two processes trade a 4-byte message N times
//	                       (after 1,000 for warm-up); prints ns per round trip
//	pipes tput S M         S sender processes each write M 4-byte messages,
//	                       one write(2) each, into one pipe that one reader
//	                       drains; prints the ns from release to last byte
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void full_read(int fd, void *buf, size_t n) {
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r <= 0) {
			perror("read");
			exit(1);
		}
		p += r;
		n -= (size_t)r;
	}
}

static void must_write(int fd, const void *buf, size_t n) {
	if (write(fd, buf, n) != (ssize_t)n) {
		perror("write");
		exit(1);
	}
}

static int pingpong(long n) {
	int there[2], back[2];
	if (pipe(there) || pipe(back)) return perror("pipe"), 1;
	pid_t pid = fork();
	if (pid == 0) {
		unsigned v;
		for (;;) {
			full_read(there[0], &v, 4);
			if (v == 0) _exit(0);
			must_write(back[1], &v, 4);
		}
	}
	unsigned v = 1;
	long long t0 = 0;
	for (long i = -1000; i < n; i++) {
		if (i == 0) t0 = now();
		must_write(there[1], &v, 4);
		full_read(back[0], &v, 4);
	}
	long long t1 = now();
	v = 0;
	must_write(there[1], &v, 4);
	waitpid(pid, NULL, 0);
	printf("%.1f\n", (double)(t1 - t0) / (double)n);
	return 0;
}

static int tput(int senders, long each) {
	int data[2], go[2];
	if (pipe(data) || pipe(go)) return perror("pipe"), 1;
	pid_t *pids = calloc((size_t)senders, sizeof *pids);
	for (int s = 0; s < senders; s++) {
		pids[s] = fork();
		if (pids[s] == 0) {
			char c;
			close(data[0]);
			full_read(go[0], &c, 1);
			unsigned v = 1;
			for (long i = 0; i < each; i++) must_write(data[1], &v, 4);
			_exit(0);
		}
	}
	close(data[1]);
	long long want = 4LL * senders * each, got = 0;
	static char buf[1 << 16];
	char ones[64];
	memset(ones, 1, sizeof ones);
	long long t0 = now();
	must_write(go[1], ones, (size_t)senders);
	while (got < want) {
		ssize_t r = read(data[0], buf, sizeof buf);
		if (r <= 0) return perror("read"), 1;
		got += r;
	}
	long long t1 = now();
	for (int s = 0; s < senders; s++) waitpid(pids[s], NULL, 0);
	printf("%lld\n", t1 - t0);
	return 0;
}

int main(int argc, char **argv) {
	if (argc == 3 && strcmp(argv[1], "pingpong") == 0) return pingpong(atol(argv[2]));
	if (argc == 4 && strcmp(argv[1], "tput") == 0) {
		int s = atoi(argv[2]);
		if (s < 1 || s > 64) return fprintf(stderr, "1 to 64 senders\n"), 2;
		return tput(s, atol(argv[3]));
	}
	fprintf(stderr, "usage: pipes pingpong N | pipes tput SENDERS EACH\n");
	return 2;
}
