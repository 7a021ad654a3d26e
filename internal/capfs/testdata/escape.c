// escape.c tries to get out of the directory capability it is given, the
// ways a WASI program can. argv[1] is where the capability is mounted
// ("/" or "/data"). Every line is "<kind> <what>: <result>", where kind is
// "attempt" (must fail) or "control" (must work, so the test is not
// vacuous), and result is OK or the errno's name. The Go test
// (e2e_test.go) reads this output and checks the host.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *base;

static const char *errname(int e) {
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case ENOTCAPABLE: return "ENOTCAPABLE";
	case ELOOP: return "ELOOP";
	case EROFS: return "EROFS";
	case EXDEV: return "EXDEV";
	case EBADF: return "EBADF";
	case EINVAL: return "EINVAL";
	case ENOTDIR: return "ENOTDIR";
	case EEXIST: return "EEXIST";
	case EISDIR: return "EISDIR";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ENOSYS: return "ENOSYS";
	case ENOTSUP: return "ENOTSUP";
	case EIO: return "EIO";
	}
	static char buf[16];
	snprintf(buf, sizeof buf, "E%d", e);
	return buf;
}

// p joins base and a relative name; two slots so calls can take two.
static const char *p(int slot, const char *name) {
	static char bufs[2][512];
	const char *sep = base[strlen(base) - 1] == '/' ? "" : "/";
	snprintf(bufs[slot], sizeof bufs[slot], "%s%s%s", base, sep, name);
	return bufs[slot];
}

static void report(const char *kind, const char *what, int rc) {
	if (rc < 0)
		printf("%s %s: %s\n", kind, what, errname(errno));
	else
		printf("%s %s: OK\n", kind, what);
}

// tryread opens and reads a file; on success it prints what it read so a
// leak is visible in the test log.
static void tryread(const char *kind, const char *what, const char *path) {
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		report(kind, what, -1);
		return;
	}
	char buf[64] = {0};
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0) {
		report(kind, what, -1);
		return;
	}
	for (char *c = buf; *c; c++)
		if (*c == '\n') *c = ' ';
	printf("%s %s: OK %s\n", kind, what, buf);
}

static void tryls(const char *kind, const char *what, const char *path) {
	DIR *d = opendir(path);
	if (!d) {
		report(kind, what, -1);
		return;
	}
	printf("%s %s: OK", kind, what);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		printf(" %s", e->d_name);
	printf("\n");
	closedir(d);
}

int main(int argc, char **argv) {
	base = argc > 1 ? argv[1] : "/";

	// Controls: ordinary use of the capability must work.
	int fd = open(p(0, "inside.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	report("control", "create inside.txt", fd);
	if (fd >= 0) {
		report("control", "write inside.txt", (int)write(fd, "written by guest\n", 17));
		close(fd);
	}
	tryread("control", "read inside.txt", p(0, "inside.txt"));
	tryread("control", "read file", p(0, "file"));
	tryls("control", "ls mount", base);
	report("control", "symlink good -> file", symlink("file", p(0, "good")));
	tryread("control", "read good", p(0, "good"));
	report("control", "mkdir sub", mkdir(p(0, "sub"), 0755));
	report("control", "rename inside.txt sub/moved", rename(p(0, "inside.txt"), p(1, "sub/moved")));

	// Lexical escapes.
	tryread("attempt", "open ../secret", "../secret");
	tryread("attempt", "open base/../secret", p(0, "../secret"));
	tryread("attempt", "open sub/../../secret", p(0, "sub/../../secret"));
	tryread("attempt", "open /etc/passwd", "/etc/passwd");
	tryls("attempt", "ls ..", p(0, ".."));

	// Symlinks made by the guest.
	report("attempt", "symlink /etc lnk", symlink("/etc", p(0, "lnk")));
	tryread("attempt", "open lnk/passwd", p(0, "lnk/passwd"));
	report("attempt", "symlink ../.. up", symlink("../..", p(0, "up")));
	tryread("attempt", "open up/secret", p(0, "up/secret"));
	report("attempt", "symlink ../secret sec", symlink("../secret", p(0, "sec")));
	tryread("attempt", "open sec", p(0, "sec"));

	// Symlinks the host left in the tree.
	tryread("attempt", "open hostetc/passwd", p(0, "hostetc/passwd"));
	tryread("attempt", "open hostup/secret", p(0, "hostup/secret"));
	tryread("attempt", "open hostsec", p(0, "hostsec"));
	tryls("attempt", "ls hostup", p(0, "hostup"));
	struct stat st;
	report("attempt", "stat hostsec", stat(p(0, "hostsec"), &st));

	// Moving things across the boundary, or writing outside.
	report("attempt", "rename file ../moved", rename(p(0, "file"), p(1, "../moved")));
	report("attempt", "rename file hostup/moved", rename(p(0, "file"), p(1, "hostup/moved")));
	report("attempt", "rename hostup/secret stolen", rename(p(0, "hostup/secret"), p(1, "stolen")));
	report("attempt", "link file ../linked", link(p(0, "file"), p(1, "../linked")));
	report("attempt", "link file hostup/linked", link(p(0, "file"), p(1, "hostup/linked")));
	report("attempt", "link ../secret stolen", link(p(0, "../secret"), p(1, "stolen")));
	report("attempt", "link hostup/secret stolen", link(p(0, "hostup/secret"), p(1, "stolen")));
	report("attempt", "create hostup/created", open(p(0, "hostup/created"), O_WRONLY | O_CREAT, 0644));
	report("attempt", "mkdir hostup/newdir", mkdir(p(0, "hostup/newdir"), 0755));
	report("attempt", "unlink hostup/secret", unlink(p(0, "hostup/secret")));
	report("attempt", "truncate hostsec", truncate(p(0, "hostsec"), 0));
	report("attempt", "open hostsec for append", open(p(0, "hostsec"), O_WRONLY | O_APPEND));
	report("attempt", "utimens hostsec", utimensat(AT_FDCWD, p(0, "hostsec"), NULL, 0));
	return 0;
}
