// WASI conformance: paths, links and symlinks. Run with one preopen at
// /scratch (an empty directory). Each check prints "ok NAME" or
// "FAIL NAME: ..."; NAME is "function/case".
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

#define R(x) __WASI_RIGHTS_##x
#define E(x) __WASI_ERRNO_##x
#define FOLLOW __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW

static __wasi_fd_t scratch(void) {
	for (__wasi_fd_t fd = 3; fd < 64; fd++) {
		__wasi_prestat_t ps;
		char name[64] = {0};
		if (__wasi_fd_prestat_get(fd, &ps) != 0 || ps.u.dir.pr_name_len >= sizeof name)
			continue;
		if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)name, ps.u.dir.pr_name_len) == 0 &&
		    strcmp(name, "/scratch") == 0)
			return fd;
	}
	return (__wasi_fd_t)-1;
}

static const __wasi_rights_t all = (__wasi_rights_t)((1ull << 30) - 1);
static const __wasi_rights_t dirs = all & ~(R(FD_WRITE));

static __wasi_errno_t create(__wasi_fd_t dir, const char *path, const char *content) {
	__wasi_fd_t fd;
	__wasi_errno_t e = __wasi_path_open(dir, 0, path, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, all, all, 0, &fd);
	if (e != 0)
		return e;
	__wasi_ciovec_t iov = {(const uint8_t *)content, strlen(content)};
	__wasi_size_t n;
	e = __wasi_fd_write(fd, &iov, 1, &n);
	__wasi_fd_close(fd);
	return e;
}

static __wasi_filestat_t stat_of(__wasi_fd_t dir, __wasi_lookupflags_t fl, const char *path) {
	__wasi_filestat_t st;
	memset(&st, 0, sizeof st);
	if (__wasi_path_filestat_get(dir, fl, path, &st) != 0)
		st.filetype = 255;
	return st;
}

static void readlink_tests(__wasi_fd_t P) {
	EQ("path_symlink/create", __wasi_path_symlink("longtarget", P, "long"), 0);
	char buf[16];
	__wasi_size_t n = 99;
	memset(buf, '#', sizeof buf);
	EQ("path_readlink/short-buffer", __wasi_path_readlink(P, "long", (uint8_t *)buf, 4, &n), 0);
	EQ("path_readlink/short-buffer-count", n, 4);
	TRUE("path_readlink/short-buffer-truncates", memcmp(buf, "long#", 5) == 0);
	EQ("path_readlink/exact", __wasi_path_readlink(P, "long", (uint8_t *)buf, sizeof buf, &n), 0);
	TRUE("path_readlink/exact-text", n == 10 && memcmp(buf, "longtarget", 10) == 0);
	EQ("path_readlink/not-link", __wasi_path_readlink(P, "a", (uint8_t *)buf, sizeof buf, &n), E(INVAL));
	EQ("path_readlink/missing", __wasi_path_readlink(P, "nope", (uint8_t *)buf, sizeof buf, &n), E(NOENT));
}

static void link_tests(__wasi_fd_t P) {
	EQ("path_symlink/to-file", __wasi_path_symlink("a", P, "la"), 0);
	__wasi_filestat_t a = stat_of(P, 0, "a");
	EQ("path_link/follow", __wasi_path_link(P, FOLLOW, "la", P, "hard-follow"), 0);
	__wasi_filestat_t h = stat_of(P, 0, "hard-follow");
	EQ("path_link/follow-links-target", h.filetype, __WASI_FILETYPE_REGULAR_FILE);
	TRUE("path_link/follow-same-inode", h.ino == a.ino);
	EQ("path_link/nofollow", __wasi_path_link(P, 0, "la", P, "hard-nofollow"), 0);
	EQ("path_link/nofollow-links-symlink", stat_of(P, 0, "hard-nofollow").filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
	EQ("path_link/exists", __wasi_path_link(P, 0, "a", P, "hard-follow"), E(EXIST));
	EQ("path_link/dir", __wasi_path_link(P, 0, "d", P, "dlink"), E(PERM));
	EQ("path_link/missing", __wasi_path_link(P, 0, "nope", P, "x"), E(NOENT));
	EQ("path_filestat_get/nofollow", stat_of(P, 0, "la").filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
	EQ("path_filestat_get/follow", stat_of(P, FOLLOW, "la").filetype, __WASI_FILETYPE_REGULAR_FILE);
	EQ("path_symlink/dangling", __wasi_path_symlink("nowhere", P, "dangle"), 0);
	__wasi_filestat_t st;
	EQ("path_filestat_get/dangling-follow", __wasi_path_filestat_get(P, FOLLOW, "dangle", &st), E(NOENT));
	EQ("path_filestat_get/dangling-nofollow", __wasi_path_filestat_get(P, 0, "dangle", &st), 0);
	EQ("path_symlink/exists", __wasi_path_symlink("a", P, "la"), E(EXIST));
	EQ("path_symlink/trailing-slash", __wasi_path_symlink("a", P, "newlink/"), E(NOENT));
	EQ("path_symlink/loop1", __wasi_path_symlink("loop2", P, "loop1"), 0);
	EQ("path_symlink/loop2", __wasi_path_symlink("loop1", P, "loop2"), 0);
	__wasi_fd_t fd;
	EQ("path_open/symlink-loop", __wasi_path_open(P, FOLLOW, "loop1", 0, all, all, 0, &fd), E(LOOP));
	EQ("path_open/nofollow-symlink", __wasi_path_open(P, 0, "la", 0, all, all, 0, &fd), E(LOOP));
	EQ("path_symlink/to-dir", __wasi_path_symlink("d", P, "ld"), 0);
	__wasi_errno_t e = __wasi_path_open(P, 0, "ld", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd);
	TRUE("path_open/nofollow-dir-symlink", e == E(LOOP) || e == E(NOTDIR));
	EQ("path_open/follow-dir-symlink", __wasi_path_open(P, FOLLOW, "ld", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd), 0);
	__wasi_fd_close(fd);
	EQ("path_open/follow-file-symlink-as-dir", __wasi_path_open(P, FOLLOW, "la", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd), E(NOTDIR));
}

static void times_tests(__wasi_fd_t P) {
	const __wasi_timestamp_t t1 = 123000000000ull, t2 = 456000000000ull;
	EQ("path_filestat_set_times/nofollow", __wasi_path_filestat_set_times(P, 0, "la", 0, t1, __WASI_FSTFLAGS_MTIM), 0);
	EQ("path_filestat_set_times/nofollow-sets-link", stat_of(P, 0, "la").mtim, t1);
	TRUE("path_filestat_set_times/nofollow-spares-target", stat_of(P, 0, "a").mtim != t1);
	EQ("path_filestat_set_times/follow", __wasi_path_filestat_set_times(P, FOLLOW, "la", 0, t2, __WASI_FSTFLAGS_MTIM), 0);
	EQ("path_filestat_set_times/follow-sets-target", stat_of(P, 0, "a").mtim, t2);
	EQ("path_filestat_set_times/follow-spares-link", stat_of(P, 0, "la").mtim, t1);
	EQ("path_filestat_set_times/atim-both", __wasi_path_filestat_set_times(P, 0, "a", 1, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW), E(INVAL));
	EQ("path_filestat_set_times/atim", __wasi_path_filestat_set_times(P, 0, "a", t1, 0, __WASI_FSTFLAGS_ATIM), 0);
	__wasi_filestat_t st = stat_of(P, 0, "a");
	TRUE("path_filestat_set_times/atim-only", st.atim == t1 && st.mtim == t2);
}

static void escape_tests(__wasi_fd_t P) {
	__wasi_fd_t fd;
	EQ("path_open/dotdot", __wasi_path_open(P, 0, "../x", 0, all, all, 0, &fd), E(NOTCAPABLE));
	EQ("path_open/absolute", __wasi_path_open(P, 0, "/etc/passwd", 0, all, all, 0, &fd), E(NOTCAPABLE));
	EQ("path_open/inner-dotdot", __wasi_path_open(P, 0, "d/../a", 0, all, all, 0, &fd), 0);
	__wasi_fd_close(fd);
	EQ("path_open/empty", __wasi_path_open(P, 0, "", 0, all, all, 0, &fd), E(NOENT));
	__wasi_fd_t D;
	EQ("path_open/subdir", __wasi_path_open(P, 0, "d", __WASI_OFLAGS_DIRECTORY, dirs, all, 0, &D), 0);
	EQ("path_open/subdir-dotdot", __wasi_path_open(D, 0, "../a", 0, all, all, 0, &fd), E(NOTCAPABLE));
	EQ("path_open/subdir-create", create(D, "inner", "in"), 0);
	EQ("path_filestat_get/via-parent", stat_of(P, 0, "d/inner").size, 2);
	EQ("path_rename/across-fds", __wasi_path_rename(D, "inner", P, "moved"), 0);
	EQ("path_rename/across-fds-arrived", stat_of(P, 0, "moved").size, 2);
	__wasi_fd_t f;
	__wasi_path_open(P, 0, "a", 0, all, all, 0, &f);
	EQ("path_open/through-file", __wasi_path_open(f, 0, "x", 0, all, all, 0, &fd), E(NOTDIR));
	EQ("path_open/through-stdout", __wasi_path_open(1, 0, "x", 0, all, all, 0, &fd), E(BADF));
	EQ("path_create_directory/through-file", __wasi_path_create_directory(f, "x"), E(BADF));
	__wasi_fd_close(f);
	__wasi_fd_close(D);
}

static void shape_tests(__wasi_fd_t P) {
	__wasi_fd_t fd;
	EQ("path_open/trailing-slash-file", __wasi_path_open(P, 0, "a/", 0, all, all, 0, &fd), E(NOTDIR));
	EQ("path_open/directory-flag-file", __wasi_path_open(P, 0, "a", __WASI_OFLAGS_DIRECTORY, dirs, all, 0, &fd), E(NOTDIR));
	EQ("path_open/directory-create", __wasi_path_open(P, 0, "newdir", __WASI_OFLAGS_DIRECTORY | __WASI_OFLAGS_CREAT, dirs, all, 0, &fd), E(INVAL));
	EQ("path_open/directory-trunc", __wasi_path_open(P, 0, "d", __WASI_OFLAGS_DIRECTORY | __WASI_OFLAGS_TRUNC, dirs, all, 0, &fd), E(INVAL));
	EQ("path_open/excl-exists", __wasi_path_open(P, 0, "a", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, all, all, 0, &fd), E(EXIST));
	EQ("path_open/missing", __wasi_path_open(P, 0, "nope", 0, all, all, 0, &fd), E(NOENT));
	EQ("path_open/dir-for-write", __wasi_path_open(P, 0, "d", 0, all, all, 0, &fd), E(ISDIR));
	EQ("path_create_directory/exists", __wasi_path_create_directory(P, "d"), E(EXIST));
	EQ("path_create_directory/new", __wasi_path_create_directory(P, "e"), 0);
	EQ("path_remove_directory/trailing-slash", __wasi_path_remove_directory(P, "e/"), 0);
	EQ("path_remove_directory/file", __wasi_path_remove_directory(P, "a"), E(NOTDIR));
	EQ("path_create_directory/nonempty-setup", create(P, "d/f", "x"), 0);
	EQ("path_remove_directory/nonempty", __wasi_path_remove_directory(P, "d"), E(NOTEMPTY));
	EQ("path_unlink_file/dir", __wasi_path_unlink_file(P, "d"), E(ISDIR));
	EQ("path_unlink_file/trailing-slash", __wasi_path_unlink_file(P, "a/"), E(NOTDIR));
	EQ("path_unlink_file/missing", __wasi_path_unlink_file(P, "nope"), E(NOENT));
	EQ("path_rename/file-over-dir", __wasi_path_rename(P, "a", P, "d"), E(ISDIR));
	EQ("path_create_directory/g", __wasi_path_create_directory(P, "g"), 0);
	EQ("path_rename/dir-over-nonempty", __wasi_path_rename(P, "g", P, "d"), E(NOTEMPTY));
	EQ("path_rename/file-trailing-slash", __wasi_path_rename(P, "a", P, "b/"), E(NOTDIR));
	EQ("path_rename/dir-trailing-slash", __wasi_path_rename(P, "g/", P, "h"), 0);
	EQ("path_unlink_file/symlink", __wasi_path_unlink_file(P, "dangle"), 0);
}

static void readdir_tests(__wasi_fd_t P) {
	__wasi_fd_t D;
	EQ("path_open/listing", __wasi_path_open(P, 0, "d", __WASI_OFLAGS_DIRECTORY, dirs, all, 0, &D), 0);
	EQ("path_create_directory/listing-setup", create(D, "two", "22"), 0);
	uint8_t buf[512];
	__wasi_size_t used;
	EQ("fd_readdir/all", __wasi_fd_readdir(D, buf, sizeof buf, 0, &used), 0);
	int names = 0, dot = 0, dotdot = 0;
	__wasi_dircookie_t second = 0;
	for (size_t off = 0; off + sizeof(__wasi_dirent_t) <= used;) {
		__wasi_dirent_t d;
		memcpy(&d, buf + off, sizeof d);
		const char *name = (const char *)buf + off + sizeof d;
		if (d.d_namlen == 1 && name[0] == '.')
			dot++;
		else if (d.d_namlen == 2 && memcmp(name, "..", 2) == 0)
			dotdot++;
		else
			names++;
		if (names + dot + dotdot == 1)
			second = d.d_next;
		off += sizeof d + d.d_namlen;
	}
	TRUE("fd_readdir/dots", dot == 1 && dotdot == 1);
	EQ("fd_readdir/names", names, 2);
	__wasi_size_t rest;
	EQ("fd_readdir/cookie", __wasi_fd_readdir(D, buf, sizeof buf, second, &rest), 0);
	EQ("fd_readdir/cookie-skips-one", rest, used - sizeof(__wasi_dirent_t) - 1);
	EQ("fd_readdir/small-buffer", __wasi_fd_readdir(D, buf, 10, 0, &rest), 0);
	EQ("fd_readdir/small-buffer-full", rest, 10);
	EQ("fd_readdir/past-end", __wasi_fd_readdir(D, buf, sizeof buf, 1000, &rest), 0);
	EQ("fd_readdir/past-end-empty", rest, 0);
	EQ("fd_readdir/file", __wasi_fd_readdir(1, buf, sizeof buf, 0, &rest), E(BADF));
	__wasi_fd_close(D);
}

// readdir_paging pages through 100 entries with a buffer that holds one
// whole entry and part of the next, as libc does with a small buffer, and
// then goes back: every entry comes once, and a cookie names the same
// entry after the listing has moved past it.
static void readdir_paging(__wasi_fd_t P) {
	__wasi_fd_t D;
	EQ("path_create_directory/many", __wasi_path_create_directory(P, "many"), 0);
	EQ("path_open/many", __wasi_path_open(P, 0, "many", __WASI_OFLAGS_DIRECTORY, dirs, all, 0, &D), 0);
	char name[16];
	int made = 0;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "f%03d", i);
		made += create(D, name, "") == 0;
	}
	EQ("path_open/many-files", made, 100);
	int seen[100] = {0}, byCookie[110], calls = 0, whole = 0;
	__wasi_dircookie_t cookie = 0;
	for (;;) {
		uint8_t buf[40];
		__wasi_size_t used;
		if (__wasi_fd_readdir(D, buf, sizeof buf, cookie, &used) != 0 || ++calls > 1000)
			break;
		size_t off = 0;
		while (off + sizeof(__wasi_dirent_t) <= used) {
			__wasi_dirent_t d;
			memcpy(&d, buf + off, sizeof d);
			if (off + sizeof d + d.d_namlen > used)
				break;
			const char *n = (const char *)buf + off + sizeof d;
			int k = -1;
			if (d.d_namlen == 4 && n[0] == 'f')
				k = (n[1] - '0') * 100 + (n[2] - '0') * 10 + (n[3] - '0');
			if (k >= 0 && k < 100)
				seen[k]++;
			if (cookie < 110)
				byCookie[cookie] = k;
			whole++;
			cookie = d.d_next;
			off += sizeof d + d.d_namlen;
		}
		if (used < sizeof buf)
			break;
	}
	int once = 0;
	for (int i = 0; i < 100; i++)
		once += seen[i] == 1;
	EQ("fd_readdir/paged-each-once", once, 100);
	EQ("fd_readdir/paged-whole", whole, 102);
	int same = 0;
	for (int c = 60; c >= 10; c -= 25) {
		uint8_t buf[64];
		__wasi_size_t used;
		__wasi_dirent_t d;
		if (__wasi_fd_readdir(D, buf, sizeof buf, c, &used) == 0 && used >= sizeof d + 4) {
			memcpy(&d, buf, sizeof d);
			const char *n = (const char *)buf + sizeof d;
			int k = (n[1] - '0') * 100 + (n[2] - '0') * 10 + (n[3] - '0');
			same += d.d_next == (__wasi_dircookie_t)c + 1 && k == byCookie[c];
		}
	}
	EQ("fd_readdir/back-same-entries", same, 3);
	__wasi_fd_close(D);
}

int main(void) {
	__wasi_fd_t P = scratch();
	if (P == (__wasi_fd_t)-1) {
		printf("FAIL setup: no /scratch preopen\n");
		return 1;
	}
	EQ("path_open/create", create(P, "a", "hello"), 0);
	EQ("path_create_directory/d", __wasi_path_create_directory(P, "d"), 0);
	readlink_tests(P);
	link_tests(P);
	times_tests(P);
	escape_tests(P);
	shape_tests(P);
	readdir_tests(P);
	readdir_paging(P);
	printf("done\n");
	return 0;
}
