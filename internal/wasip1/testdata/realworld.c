// A C program written against POSIX, as ported programs are: poll,
// readlink, symlinks, hard links, timestamps, directories and stdio,
// through wasi-libc. Run with a preopen at /scratch and stdin "hello\n".
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void check(const char *name, long long got, long long want) {
	if (got == want)
		printf("ok %s\n", name);
	else
		printf("FAIL %s: got %lld want %lld (errno %d)\n", name, got, want, errno);
}
#define EQ(name, got, want) check(name, (long long)(got), (long long)(want))
#define TRUE(name, cond) check(name, !!(cond), 1)

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	FILE *f = fopen("/scratch/data.txt", "w");
	TRUE("libc_file/fopen", f != NULL);
	fprintf(f, "line one\nline two\n");
	fclose(f);
	char line[64] = {0};
	f = fopen("/scratch/data.txt", "r");
	TRUE("libc_file/read-back", f && fgets(line, sizeof line, f) && strcmp(line, "line one\n") == 0);
	fclose(f);

	EQ("libc_readlink/symlink", symlink("data.txt", "/scratch/link"), 0);
	char buf[32];
	memset(buf, 0, sizeof buf);
	EQ("libc_readlink/short-buffer", readlink("/scratch/link", buf, 4), 4);
	TRUE("libc_readlink/short-buffer-text", memcmp(buf, "data", 4) == 0 && buf[4] == 0);
	EQ("libc_readlink/full", readlink("/scratch/link", buf, sizeof buf), 8);
	struct stat st;
	EQ("libc_stat/lstat", lstat("/scratch/link", &st), 0);
	TRUE("libc_stat/lstat-is-link", S_ISLNK(st.st_mode));
	EQ("libc_stat/stat", stat("/scratch/link", &st), 0);
	TRUE("libc_stat/stat-follows", S_ISREG(st.st_mode) && st.st_size == 18);

	struct timespec ts[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT}, {.tv_sec = 1000, .tv_nsec = 0}};
	EQ("libc_utimensat/nofollow", utimensat(AT_FDCWD, "/scratch/link", ts, AT_SYMLINK_NOFOLLOW), 0);
	lstat("/scratch/link", &st);
	EQ("libc_utimensat/link-time", st.st_mtim.tv_sec, 1000);
	stat("/scratch/data.txt", &st);
	TRUE("libc_utimensat/target-untouched", st.st_mtim.tv_sec != 1000);
	EQ("libc_link/hard", link("/scratch/data.txt", "/scratch/hard"), 0);
	stat("/scratch/hard", &st);
	EQ("libc_link/nlink", st.st_nlink, 2);

	int fd = open("/scratch/sync.txt", O_CREAT | O_WRONLY | O_SYNC, 0644);
	TRUE("libc_fcntl/open-sync", fd >= 0);
	TRUE("libc_fcntl/sync-kept", (fcntl(fd, F_GETFL) & O_SYNC) == O_SYNC);
	TRUE("libc_fcntl/write-only", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY);
	close(fd);

	struct pollfd out = {.fd = 1, .events = POLLOUT};
	EQ("libc_poll/stdout", poll(&out, 1, 1000), 1);
	TRUE("libc_poll/stdout-writable", out.revents & POLLOUT);
	struct pollfd in = {.fd = 0, .events = POLLIN};
	EQ("libc_poll/stdin", poll(&in, 1, -1), 1);
	TRUE("libc_poll/stdin-readable", in.revents & POLLIN);
	char inbuf[16] = {0};
	EQ("libc_poll/stdin-read", read(0, inbuf, sizeof inbuf), 6);
	TRUE("libc_poll/stdin-text", strcmp(inbuf, "hello\n") == 0);
	EQ("libc_poll/sleep", poll(NULL, 0, 5), 0);
	struct timespec t0, t1, nap = {.tv_nsec = 2000000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EQ("libc_nanosleep/ok", nanosleep(&nap, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TRUE("libc_nanosleep/slept", (t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec) >= 2000000);

	DIR *d = opendir("/scratch");
	int entries = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			entries++;
	if (d)
		closedir(d);
	EQ("libc_readdir/entries", entries, 4);
	EQ("libc_isatty/stdout", isatty(1), 0);
	printf("done\n");
	return 0;
}
