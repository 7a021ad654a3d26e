// child.c: the tiny native program the OS-process peers start. It writes
// one byte to stdout to say it is running, then exits, or with the
// argument "idle" sleeps until it is killed.
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (write(1, "x", 1) != 1) return 1;
	if (argc > 1 && strcmp(argv[1], "idle") == 0) {
		for (;;) pause();
	}
	return 0;
}
