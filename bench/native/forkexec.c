// forkexec.c: spawn latency of an OS process. For each of N samples it
// forks, execs CHILD with stdout on a pipe, and times from before fork()
// until the child's first byte arrives, that is until the new program is
// running its main. The child's exit and reaping are not timed. Prints one
// duration in nanoseconds per line.
//
//	forkexec N CHILD
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: forkexec N CHILD\n");
		return 2;
	}
	int n = atoi(argv[1]);
	char *args[] = {argv[2], NULL};
	for (int i = 0; i < n; i++) {
		int p[2];
		if (pipe(p) != 0) return perror("pipe"), 1;
		long long t0 = now();
		pid_t pid = fork();
		if (pid < 0) return perror("fork"), 1;
		if (pid == 0) {
			dup2(p[1], 1);
			close(p[0]);
			close(p[1]);
			execv(argv[2], args);
			_exit(127);
		}
		close(p[1]);
		char c;
		if (read(p[0], &c, 1) != 1) return fprintf(stderr, "child did not start\n"), 1;
		long long t1 = now();
		close(p[0]);
		waitpid(pid, NULL, 0);
		printf("%lld\n", t1 - t0);
	}
	return 0;
}
