// WASI conformance: descriptors. Run with one preopen at /scratch (an
// empty directory) and stdin holding "stdin!". Each check prints
// "ok NAME" or "FAIL NAME: ..."; NAME is "function/case".
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

static __wasi_fd_t open_file(__wasi_fd_t dir, const char *path, __wasi_oflags_t o, __wasi_rights_t base,
			     __wasi_fdflags_t fl) {
	__wasi_fd_t fd = (__wasi_fd_t)-1;
	__wasi_errno_t e = __wasi_path_open(dir, 0, path, o, base, base, fl, &fd);
	if (e != 0)
		printf("FAIL setup/open %s: errno %d\n", path, e);
	return fd;
}

static __wasi_rights_t rights(__wasi_fd_t fd) {
	__wasi_fdstat_t st;
	if (__wasi_fd_fdstat_get(fd, &st) != 0)
		return 0;
	return st.fs_rights_base;
}

static void fdstat(__wasi_fd_t P) {
	__wasi_fdstat_t st;
	EQ("fd_fdstat_get/stdin", __wasi_fd_fdstat_get(0, &st), 0);
	TRUE("fd_fdstat_get/stdin-reads-not-writes", (st.fs_rights_base & R(FD_READ)) && !(st.fs_rights_base & R(FD_WRITE)));
	__wasi_fd_fdstat_get(1, &st);
	TRUE("fd_fdstat_get/stdout-writes-not-reads", (st.fs_rights_base & R(FD_WRITE)) && !(st.fs_rights_base & R(FD_READ)));
	TRUE("fd_fdstat_get/stdout-no-seek", !(st.fs_rights_base & (R(FD_SEEK) | R(FD_TELL))));
	__wasi_fd_fdstat_get(P, &st);
	EQ("fd_fdstat_get/preopen-type", st.fs_filetype, __WASI_FILETYPE_DIRECTORY);
	TRUE("fd_fdstat_get/preopen-path-rights", (st.fs_rights_base & (R(PATH_OPEN) | R(PATH_CREATE_FILE) | R(FD_READDIR))) ==
						     (R(PATH_OPEN) | R(PATH_CREATE_FILE) | R(FD_READDIR)));
	TRUE("fd_fdstat_get/preopen-no-set-size", !(st.fs_rights_base & (R(PATH_FILESTAT_SET_SIZE) | R(FD_FILESTAT_SET_SIZE))));
	TRUE("fd_fdstat_get/preopen-no-read-write", !(st.fs_rights_base & (R(FD_READ) | R(FD_WRITE) | R(FD_SEEK))));
	TRUE("fd_fdstat_get/preopen-inherits-io", (st.fs_rights_inheriting & (R(FD_READ) | R(FD_WRITE))) == (R(FD_READ) | R(FD_WRITE)));

	__wasi_fd_t rw = open_file(P, "rw", __WASI_OFLAGS_CREAT, all, 0);
	__wasi_fd_close(rw);
	__wasi_fd_t ro = open_file(P, "rw", 0, all & ~R(FD_WRITE), 0);
	__wasi_fd_fdstat_get(ro, &st);
	EQ("fd_fdstat_get/file-type", st.fs_filetype, __WASI_FILETYPE_REGULAR_FILE);
	TRUE("fd_fdstat_get/readonly-no-write", (st.fs_rights_base & R(FD_READ)) && !(st.fs_rights_base & R(FD_WRITE)));
	TRUE("fd_fdstat_get/file-no-path-rights", !(st.fs_rights_base & (R(PATH_OPEN) | R(FD_READDIR) | R(PATH_CREATE_FILE))));
	__wasi_fd_close(ro);
	__wasi_fd_t wo = open_file(P, "rw", 0, all & ~R(FD_READ), 0);
	TRUE("fd_fdstat_get/writeonly-no-read", (rights(wo) & R(FD_WRITE)) && !(rights(wo) & R(FD_READ)));
	__wasi_fd_close(wo);

	__wasi_fd_t sy = open_file(P, "rw", 0, all, __WASI_FDFLAGS_SYNC | __WASI_FDFLAGS_DSYNC | __WASI_FDFLAGS_RSYNC | __WASI_FDFLAGS_APPEND);
	__wasi_fd_fdstat_get(sy, &st);
	TRUE("fd_fdstat_get/flags-sync", st.fs_flags & __WASI_FDFLAGS_SYNC);
	TRUE("fd_fdstat_get/flags-dsync", st.fs_flags & __WASI_FDFLAGS_DSYNC);
	TRUE("fd_fdstat_get/flags-rsync", st.fs_flags & __WASI_FDFLAGS_RSYNC);
	TRUE("fd_fdstat_get/flags-append", st.fs_flags & __WASI_FDFLAGS_APPEND);
	EQ("fd_fdstat_set_flags/keeps-sync", __wasi_fd_fdstat_set_flags(sy, __WASI_FDFLAGS_NONBLOCK), 0);
	__wasi_fd_fdstat_get(sy, &st);
	TRUE("fd_fdstat_set_flags/sync-kept", (st.fs_flags & __WASI_FDFLAGS_SYNC) && (st.fs_flags & __WASI_FDFLAGS_NONBLOCK) && !(st.fs_flags & __WASI_FDFLAGS_APPEND));
	__wasi_fd_close(sy);

	__wasi_fd_t d;
	EQ("path_open/mkdir-setup", __wasi_path_create_directory(P, "sub"), 0);
	EQ("path_open/directory", __wasi_path_open(P, 0, "sub", __WASI_OFLAGS_DIRECTORY, all & ~R(FD_WRITE), all, 0, &d), 0);
	__wasi_fd_fdstat_get(d, &st);
	EQ("fd_fdstat_get/subdir-type", st.fs_filetype, __WASI_FILETYPE_DIRECTORY);
	TRUE("fd_fdstat_get/subdir-no-set-size", !(st.fs_rights_base & (R(PATH_FILESTAT_SET_SIZE) | R(FD_FILESTAT_SET_SIZE) | R(FD_SEEK))));
	__wasi_fd_close(d);

	__wasi_fd_t none;
	EQ("path_open/empty-rights", __wasi_path_open(P, 0, ".", 0, 0, 0, 0, &none), 0);
	EQ("fd_fdstat_get/empty-rights", rights(none), 0);
	__wasi_fd_close(none);
	EQ("path_open/directory-read-write", __wasi_path_open(P, 0, ".", __WASI_OFLAGS_DIRECTORY, R(FD_READ) | R(FD_WRITE), 0, 0, &none), E(ISDIR));
	__wasi_fd_t narrow = open_file(P, "rw", 0, R(FD_READ), 0);
	EQ("fd_fdstat_get/narrow-request", rights(narrow), R(FD_READ));
	__wasi_filesize_t pos;
	EQ("fd_seek/without-right", __wasi_fd_seek(narrow, 0, __WASI_WHENCE_END, &pos), E(NOTCAPABLE));
	__wasi_fd_close(narrow);
}

static void set_rights(__wasi_fd_t P) {
	__wasi_fd_t f = open_file(P, "rw", 0, all, 0);
	__wasi_rights_t r = rights(f);
	EQ("fd_fdstat_set_rights/drop", __wasi_fd_fdstat_set_rights(f, r & ~R(FD_WRITE), 0), 0);
	TRUE("fd_fdstat_set_rights/dropped", !(rights(f) & R(FD_WRITE)));
	__wasi_ciovec_t iov = {(const uint8_t *)"x", 1};
	__wasi_size_t n;
	EQ("fd_fdstat_set_rights/enforced", __wasi_fd_write(f, &iov, 1, &n), E(NOTCAPABLE));
	EQ("fd_fdstat_set_rights/no-regain", __wasi_fd_fdstat_set_rights(f, r, 0), E(NOTCAPABLE));
	EQ("fd_fdstat_set_rights/badf", __wasi_fd_fdstat_set_rights(99, 0, 0), E(BADF));
	__wasi_fd_close(f);
}

static __wasi_fd_t renumber(__wasi_fd_t P) {
	__wasi_fd_t a = open_file(P, "rw", 0, all, 0);
	__wasi_fdstat_t st;
	EQ("fd_renumber/stdin-self", __wasi_fd_renumber(0, 0), 0);
	EQ("fd_renumber/max-target", __wasi_fd_renumber(a, 0xffffffffu), E(BADF));
	EQ("fd_renumber/closed-target", __wasi_fd_renumber(a, 50), E(BADF));
	EQ("fd_renumber/closed-target-keeps-source", __wasi_fd_fdstat_get(a, &st), 0);
	EQ("fd_renumber/bad-source", __wasi_fd_renumber(77, a), E(BADF));
	EQ("fd_renumber/self", __wasi_fd_renumber(a, a), 0);
	EQ("fd_renumber/self-keeps-open", __wasi_fd_fdstat_get(a, &st), 0);

	// A preopen moves, and keeps being a preopen under its new number.
	__wasi_fd_t b = open_file(P, "rw", 0, all, 0);
	EQ("fd_renumber/move-preopen", __wasi_fd_renumber(P, b), 0);
	__wasi_prestat_t ps;
	EQ("fd_renumber/moved-preopen-prestat", __wasi_fd_prestat_get(b, &ps), 0);
	EQ("fd_renumber/moved-preopen-old-closed", __wasi_fd_fdstat_get(P, &st), E(BADF));
	P = b;
	// Replacing a preopen and stdin with files.
	__wasi_fd_t c = open_file(P, "rw", 0, all, 0);
	EQ("fd_renumber/replace-stdin", __wasi_fd_renumber(c, 0), 0);
	__wasi_fd_fdstat_get(0, &st);
	EQ("fd_renumber/stdin-is-file", st.fs_filetype, __WASI_FILETYPE_REGULAR_FILE);
	EQ("fd_renumber/replaced-source-closed", __wasi_fd_fdstat_get(c, &st), E(BADF));
	EQ("fd_renumber/stderr-moves", __wasi_fd_renumber(2, a), 0);
	__wasi_fd_fdstat_get(a, &st);
	TRUE("fd_renumber/stderr-moved", st.fs_rights_base & R(FD_WRITE));
	EQ("fd_renumber/stderr-old-closed", __wasi_fd_fdstat_get(2, &st), E(BADF));
	__wasi_fd_close(a);
	return P;
}

static void prestat(__wasi_fd_t P) {
	__wasi_prestat_t ps;
	for (int fd = 0; fd < 3; fd++)
		EQ(fd == 0 ? "fd_prestat_get/stdin" : fd == 1 ? "fd_prestat_get/stdout" : "fd_prestat_get/stderr",
		   __wasi_fd_prestat_get(fd, &ps), E(BADF));
	EQ("fd_prestat_get/preopen", __wasi_fd_prestat_get(P, &ps), 0);
	EQ("fd_prestat_get/name-len", ps.u.dir.pr_name_len, 8);
	char buf[32];
	memset(buf, '#', sizeof buf);
	EQ("fd_prestat_dir_name/longer-buffer", __wasi_fd_prestat_dir_name(P, (uint8_t *)buf, sizeof buf), 0);
	TRUE("fd_prestat_dir_name/longer-buffer-name", memcmp(buf, "/scratch#", 9) == 0);
	EQ("fd_prestat_dir_name/short-buffer", __wasi_fd_prestat_dir_name(P, (uint8_t *)buf, 3), E(NAMETOOLONG));
	__wasi_fd_t f = open_file(P, "rw", 0, all, 0);
	EQ("fd_prestat_get/file", __wasi_fd_prestat_get(f, &ps), E(BADF));
	EQ("fd_prestat_dir_name/not-preopen", __wasi_fd_prestat_dir_name(f, (uint8_t *)buf, sizeof buf), E(NOTDIR));
	EQ("fd_prestat_dir_name/closed", __wasi_fd_prestat_dir_name(90, (uint8_t *)buf, sizeof buf), E(BADF));
	__wasi_fd_close(f);
}

static void dir_ops(__wasi_fd_t P) {
	uint8_t b[8];
	__wasi_iovec_t iov = {b, sizeof b};
	__wasi_ciovec_t ciov = {b, sizeof b};
	__wasi_size_t n;
	__wasi_filesize_t pos;
	EQ("fd_read/dir", __wasi_fd_read(P, &iov, 1, &n), E(BADF));
	EQ("fd_pread/dir", __wasi_fd_pread(P, &iov, 1, 0, &n), E(BADF));
	EQ("fd_write/dir", __wasi_fd_write(P, &ciov, 1, &n), E(BADF));
	EQ("fd_pwrite/dir", __wasi_fd_pwrite(P, &ciov, 1, 0, &n), E(BADF));
	EQ("fd_seek/dir", __wasi_fd_seek(P, 0, __WASI_WHENCE_SET, &pos), E(BADF));
	EQ("fd_tell/dir", __wasi_fd_tell(P, &pos), E(BADF));
	EQ("fd_advise/dir", __wasi_fd_advise(P, 0, 0, __WASI_ADVICE_DONTNEED), E(BADF));
	EQ("fd_allocate/dir", __wasi_fd_allocate(P, 0, 1), E(BADF));
	EQ("fd_datasync/dir", __wasi_fd_datasync(P), E(BADF));
	EQ("fd_sync/dir", __wasi_fd_sync(P), E(BADF));
	EQ("fd_fdstat_set_flags/dir", __wasi_fd_fdstat_set_flags(P, __WASI_FDFLAGS_NONBLOCK), E(BADF));
	EQ("fd_filestat_set_size/dir", __wasi_fd_filestat_set_size(P, 0), E(BADF));
	EQ("fd_seek/stdout", __wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &pos), E(SPIPE));
	EQ("fd_tell/stdin", __wasi_fd_tell(0, &pos), E(SPIPE));
	EQ("fd_pwrite/stdout", __wasi_fd_pwrite(1, &ciov, 1, 0, &n), E(SPIPE));
	EQ("fd_pread/stdin", __wasi_fd_pread(0, &iov, 1, 0, &n), E(SPIPE));
	EQ("fd_read/stdout", __wasi_fd_read(1, &iov, 1, &n), E(BADF));
	EQ("fd_write/stdin", __wasi_fd_write(0, &ciov, 1, &n), E(BADF));
	EQ("fd_write/huge-iovec-count", __wasi_fd_write(1, &ciov, 0x10000000, &n), E(FAULT));
	EQ("fd_read/huge-iovec-count", __wasi_fd_read(0, &iov, 0x10000000, &n), E(FAULT));
}

static void files(__wasi_fd_t P) {
	__wasi_fd_t f = open_file(P, "alloc", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, all, 0);
	__wasi_filestat_t st;
	EQ("fd_allocate/file", __wasi_fd_allocate(f, 0, 100), 0);
	__wasi_fd_filestat_get(f, &st);
	EQ("fd_allocate/grows", st.size, 100);
	EQ("fd_allocate/inside", __wasi_fd_allocate(f, 10, 10), 0);
	__wasi_fd_filestat_get(f, &st);
	EQ("fd_allocate/inside-keeps-size", st.size, 100);
	__wasi_fd_t ro = open_file(P, "alloc", 0, all & ~R(FD_WRITE), 0);
	EQ("fd_allocate/readonly", __wasi_fd_allocate(ro, 0, 200), E(BADF));
	EQ("fd_advise/bad-advice", __wasi_fd_advise(f, 0, 0, 9), E(INVAL));
	EQ("fd_advise/file", __wasi_fd_advise(f, 0, 0, __WASI_ADVICE_SEQUENTIAL), 0);
	EQ("fd_filestat_set_size/grow", __wasi_fd_filestat_set_size(f, 300), 0);
	__wasi_fd_filestat_get(f, &st);
	EQ("fd_filestat_set_size/grown", st.size, 300);
	EQ("fd_datasync/file", __wasi_fd_datasync(f), 0);
	EQ("fd_sync/file", __wasi_fd_sync(f), 0);
	{
		uint8_t w[3] = {'a', 'b', 'c'}, r[3] = {0};
		__wasi_ciovec_t ci = {w, 3};
		__wasi_iovec_t ri = {r, 3};
		__wasi_size_t n;
		__wasi_filesize_t pos;
		EQ("fd_pwrite/file", __wasi_fd_pwrite(f, &ci, 1, 10, &n), 0);
		EQ("fd_tell/pwrite-keeps-offset", __wasi_fd_tell(f, &pos) == 0 ? pos : 99, 0);
		EQ("fd_pread/file", __wasi_fd_pread(f, &ri, 1, 10, &n), 0);
		TRUE("fd_pread/bytes", n == 3 && memcmp(r, "abc", 3) == 0);
		EQ("fd_seek/set", __wasi_fd_seek(f, 11, __WASI_WHENCE_SET, &pos), 0);
		EQ("fd_seek/set-pos", pos, 11);
		EQ("fd_seek/negative", __wasi_fd_seek(f, -100, __WASI_WHENCE_CUR, &pos), E(INVAL));
		EQ("fd_read/file", __wasi_fd_read(f, &ri, 1, &n), 0);
		TRUE("fd_read/file-bytes", n == 3 && memcmp(r, "bc\0", 3) == 0);
		EQ("fd_tell/file", __wasi_fd_tell(f, &pos) == 0 ? pos : 99, 14);
		EQ("fd_seek/end", __wasi_fd_seek(f, -1, __WASI_WHENCE_END, &pos), 0);
		EQ("fd_seek/end-pos", pos, 299);
	}
	EQ("fd_fdstat_set_flags/append", __wasi_fd_fdstat_set_flags(f, __WASI_FDFLAGS_APPEND), 0);
	__wasi_fdstat_t fst;
	__wasi_fd_fdstat_get(f, &fst);
	TRUE("fd_fdstat_set_flags/append-reported", fst.fs_flags & __WASI_FDFLAGS_APPEND);
	EQ("fd_fdstat_set_flags/sync-fixed", __wasi_fd_fdstat_set_flags(f, __WASI_FDFLAGS_SYNC), E(INVAL));
	EQ("fd_filestat_set_times/file", __wasi_fd_filestat_set_times(f, 0, 1000000000000ull, __WASI_FSTFLAGS_MTIM), 0);
	__wasi_fd_filestat_get(f, &st);
	EQ("fd_filestat_set_times/mtim", st.mtim, 1000000000000ull);
	EQ("fd_filestat_set_times/both-flags", __wasi_fd_filestat_set_times(f, 0, 0, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW), E(INVAL));
	EQ("fd_filestat_get/stdout", __wasi_fd_filestat_get(1, &st), 0);
	EQ("fd_filestat_set_size/readonly", __wasi_fd_filestat_set_size(ro, 1) != 0, 1);
	__wasi_fd_close(ro);
	__wasi_fd_close(f);
	EQ("fd_close/twice", __wasi_fd_close(f), E(BADF));
	uint8_t b[4];
	__wasi_iovec_t iov = {b, sizeof b};
	__wasi_size_t n;
	EQ("fd_read/stdin", __wasi_fd_read(0, &iov, 1, &n), 0);
	TRUE("fd_read/stdin-bytes", n == 4 && memcmp(b, "stdi", 4) == 0);
}

static void sockets(__wasi_fd_t P) {
	__wasi_fd_t fd;
	__wasi_size_t n;
	__wasi_roflags_t ro;
	uint8_t b[4];
	__wasi_iovec_t iov = {b, sizeof b};
	__wasi_ciovec_t ciov = {b, sizeof b};
	EQ("sock_shutdown/not-socket", __wasi_sock_shutdown(1, __WASI_SDFLAGS_WR), E(NOTSOCK));
	EQ("sock_shutdown/preopen", __wasi_sock_shutdown(P, __WASI_SDFLAGS_RD), E(NOTSOCK));
	EQ("sock_shutdown/badf", __wasi_sock_shutdown(99, __WASI_SDFLAGS_RD), E(BADF));
	EQ("sock_accept/not-socket", __wasi_sock_accept(P, 0, &fd), E(NOTSOCK));
	EQ("sock_accept/badf", __wasi_sock_accept(99, 0, &fd), E(BADF));
	EQ("sock_recv/not-socket", __wasi_sock_recv(0, &iov, 1, 0, &n, &ro), E(NOTSOCK));
	EQ("sock_send/not-socket", __wasi_sock_send(1, &ciov, 1, 0, &n), E(NOTSOCK));
	EQ("sock_send/badf", __wasi_sock_send(99, &ciov, 1, 0, &n), E(BADF));
}

static void closing(__wasi_fd_t P) {
	__wasi_prestat_t ps;
	EQ("fd_close/preopen", __wasi_fd_close(P), 0);
	EQ("fd_close/preopen-gone", __wasi_fd_prestat_get(P, &ps), E(BADF));
}

int main(void) {
	__wasi_fd_t P = scratch();
	if (P == (__wasi_fd_t)-1) {
		printf("FAIL setup: no /scratch preopen\n");
		return 1;
	}
	fdstat(P);
	set_rights(P);
	prestat(P);
	dir_ops(P);
	files(P);
	sockets(P);
	P = renumber(P);
	closing(P);
	printf("done\n");
	return 0;
}
