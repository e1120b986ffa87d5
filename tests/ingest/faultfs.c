/* faultfs: an LD_PRELOAD shim that makes file-system calls on paths under a prefix fail with a
 * chosen errno, for the I/O-fault tests (tests/ingest/test_io_faults.py builds it with gcc).
 *
 * Why a shim and not libfiu's fiu-run: fiu's posix preload fails a call in the whole process
 * (SQLite's journal, Python's imports, the probes' reads), it cannot name a path. This one
 * fails only calls on a file or directory whose path starts with FAULTFS_PREFIX (the path of
 * an fd read from /proc/self/fd), and only after a counted number of calls, so a fault lands
 * on an exact step, never by timing.
 *
 * Environment (read once, when the library is loaded):
 *   FAULTFS_PREFIX   absolute path; calls on paths under it are "matching" (required)
 *   FAULTFS_OPS      comma list of what fails: write (write, pwrite, writev, pwritev and their 64 forms), read
 *                    (read, pread, readv, preadv, ...), fsync (fsync of a file), dirfsync (fsync
 *                    of a directory), fdatasync, rename, link
 *   FAULTFS_ERRNO    the errno returned (default 5, EIO)
 *   FAULTFS_ARM_OP   the op whose matching calls are counted to arm the fault (default: the
 *                    first of FAULTFS_OPS); FAULTFS_ARM_AFTER of them pass first (default 0)
 *   FAULTFS_COUNT    how many calls fail once armed (default: every one after, a disk that
 *                    stays broken or full)
 *   FAULTFS_ONE_PATH when set: only the path of the first arming call counts and fails (a
 *                    step of the first file, whatever the calls of the next file, which the
 *                    ingest pipeline copies meanwhile, interleave with it)
 *   FAULTFS_LOG      a file that gets one line per matching call: "pass OP PATH" or
 *                    "fail OP PATH" (so a test can prove the fault was hit)
 * Children of the process (which inherit LD_PRELOAD) inject nothing: see faultfs_init.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_READ = 2, OP_FSYNC = 4, OP_DIRFSYNC = 8, OP_FDATASYNC = 16,
       OP_RENAME = 32, OP_LINK = 64 };

static const struct { const char *name; int op; } names[] = {
    {"write", OP_WRITE}, {"read", OP_READ}, {"fsync", OP_FSYNC}, {"dirfsync", OP_DIRFSYNC},
    {"fdatasync", OP_FDATASYNC}, {"rename", OP_RENAME}, {"link", OP_LINK},
};

static char prefix[PATH_MAX];
static size_t prefix_len;
static int ops, arm_op, err = EIO, log_fd = -1;
static long arm_after, fail_count = -1;
static long armed_seen, failed_so_far;
static int one_path;
static char latched[PATH_MAX];
static pthread_mutex_t latch_lock = PTHREAD_MUTEX_INITIALIZER;

/* With FAULTFS_ONE_PATH: whether ``path`` is the one the fault is about (the first arming
 * call's path, latched by that call). */
static int on_latched(int op, const char *path) {
    if (!one_path) return 1;
    pthread_mutex_lock(&latch_lock);
    if (!latched[0] && op == arm_op) snprintf(latched, sizeof latched, "%s", path);
    int same = latched[0] && strcmp(latched, path) == 0;
    pthread_mutex_unlock(&latch_lock);
    return same;
}

static int op_of(const char *name) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, name) == 0) return names[i].op;
    return 0;
}

static const char *name_of(int op) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].op == op) return names[i].name;
    return "?";
}

__attribute__((constructor)) static void faultfs_init(void) {
    /* Only the process started with the shim injects faults: the mark set here reaches the
     * environment its runtime hands to children (exiftool, ffprobe), which then run clean. */
    if (getenv("FAULTFS_INHERITED")) return;
    setenv("FAULTFS_INHERITED", "1", 1);
    const char *p = getenv("FAULTFS_PREFIX"), *o = getenv("FAULTFS_OPS"), *v;
    if (p == NULL || o == NULL || strlen(p) >= sizeof prefix) return;
    strcpy(prefix, p);
    prefix_len = strlen(prefix);
    char list[256];
    snprintf(list, sizeof list, "%s", o);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int op = op_of(t);
        if (op && !arm_op) arm_op = op;
        ops |= op;
    }
    if ((v = getenv("FAULTFS_ERRNO"))) err = atoi(v);
    if ((v = getenv("FAULTFS_ARM_OP"))) arm_op = op_of(v);
    if ((v = getenv("FAULTFS_ARM_AFTER"))) arm_after = atol(v);
    if ((v = getenv("FAULTFS_COUNT"))) fail_count = atol(v);
    if ((v = getenv("FAULTFS_ONE_PATH")) && *v) one_path = 1;
    if ((v = getenv("FAULTFS_LOG")))
        log_fd = (int)syscall(SYS_openat, AT_FDCWD, v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                              0600);
}

static int under(const char *path) {
    return prefix_len && strncmp(path, prefix, prefix_len) == 0 &&
           (path[prefix_len] == '/' || path[prefix_len] == '\0');
}

static int fd_path(int fd, char *out, size_t size) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, size - 1);
    if (n < 0) return 0;
    out[n] = '\0';
    return 1;
}

static void at_path(int dirfd, const char *name, char *out, size_t size) {
    char dir[PATH_MAX];
    if (name[0] == '/') snprintf(out, size, "%s", name);
    else if (dirfd == AT_FDCWD && getcwd(dir, sizeof dir)) snprintf(out, size, "%s/%s", dir, name);
    else if (dirfd != AT_FDCWD && fd_path(dirfd, dir, sizeof dir))
        snprintf(out, size, "%s/%s", dir, name);
    else snprintf(out, size, "%s", name);
}

static void note(const char *what, int op, const char *path) {
    if (log_fd < 0) return;
    char line[2 * PATH_MAX + 64];
    int n = snprintf(line, sizeof line, "%s %s %s\n", what, name_of(op), path);
    if (n > 0) syscall(SYS_write, log_fd, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1));
}

/* Whether this call on ``path`` (op ``op``) fails; counts the arming calls. */
static int fails(int op, const char *path) {
    if (!prefix_len || !under(path) || !((ops | arm_op) & op)) return 0;
    if (!on_latched(op, path)) {
        note("pass", op, path);
        return 0;
    }
    int hit = 0;
    long seen = armed_seen;
    if ((ops & op) && seen >= arm_after &&
        (fail_count < 0 || __atomic_load_n(&failed_so_far, __ATOMIC_SEQ_CST) < fail_count)) {
        __atomic_add_fetch(&failed_so_far, 1, __ATOMIC_SEQ_CST);
        hit = 1;
    }
    if (op == arm_op) __atomic_add_fetch(&armed_seen, 1, __ATOMIC_SEQ_CST);
    note(hit ? "fail" : "pass", op, path);
    return hit;
}

static int fd_fails(int op, int fd) {
    char path[PATH_MAX];
    if (!prefix_len || !((ops | arm_op) & op) || !fd_path(fd, path, sizeof path)) return 0;
    return fails(op, path);
}

#define REAL(ret, name, ...) \
    static ret (*real)(__VA_ARGS__); \
    if (!real) real = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, name)

#define FAIL_FD(op, fd, value) \
    if (fd_fails(op, fd)) { errno = err; return value; }

ssize_t write(int fd, const void *buf, size_t n) {
    REAL(ssize_t, "write", int, const void *, size_t);
    FAIL_FD(OP_WRITE, fd, -1);
    return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    REAL(ssize_t, "pwrite", int, const void *, size_t, off_t);
    FAIL_FD(OP_WRITE, fd, -1);
    return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    REAL(ssize_t, "pwrite64", int, const void *, size_t, off_t);
    FAIL_FD(OP_WRITE, fd, -1);
    return real(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    REAL(ssize_t, "writev", int, const struct iovec *, int);
    FAIL_FD(OP_WRITE, fd, -1);
    return real(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    REAL(ssize_t, "pwritev", int, const struct iovec *, int, off_t);
    FAIL_FD(OP_WRITE, fd, -1);
    return real(fd, iov, cnt, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
    REAL(ssize_t, "pwritev2", int, const struct iovec *, int, off_t, int);
    FAIL_FD(OP_WRITE, fd, -1);
    return real(fd, iov, cnt, off, flags);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) {
    REAL(ssize_t, "pwritev64", int, const struct iovec *, int, off_t);
    FAIL_FD(OP_WRITE, fd, -1);
    return real(fd, iov, cnt, off);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
    REAL(ssize_t, "pwritev64v2", int, const struct iovec *, int, off_t, int);
    FAIL_FD(OP_WRITE, fd, -1);
    return real(fd, iov, cnt, off, flags);
}

ssize_t read(int fd, void *buf, size_t n) {
    REAL(ssize_t, "read", int, void *, size_t);
    FAIL_FD(OP_READ, fd, -1);
    return real(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
    REAL(ssize_t, "pread", int, void *, size_t, off_t);
    FAIL_FD(OP_READ, fd, -1);
    return real(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off) {
    REAL(ssize_t, "pread64", int, void *, size_t, off_t);
    FAIL_FD(OP_READ, fd, -1);
    return real(fd, buf, n, off);
}

ssize_t readv(int fd, const struct iovec *iov, int cnt) {
    REAL(ssize_t, "readv", int, const struct iovec *, int);
    FAIL_FD(OP_READ, fd, -1);
    return real(fd, iov, cnt);
}

ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off) {
    REAL(ssize_t, "preadv", int, const struct iovec *, int, off_t);
    FAIL_FD(OP_READ, fd, -1);
    return real(fd, iov, cnt, off);
}

ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
    REAL(ssize_t, "preadv2", int, const struct iovec *, int, off_t, int);
    FAIL_FD(OP_READ, fd, -1);
    return real(fd, iov, cnt, off, flags);
}

ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off) {
    REAL(ssize_t, "preadv64", int, const struct iovec *, int, off_t);
    FAIL_FD(OP_READ, fd, -1);
    return real(fd, iov, cnt, off);
}

ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
    REAL(ssize_t, "preadv64v2", int, const struct iovec *, int, off_t, int);
    FAIL_FD(OP_READ, fd, -1);
    return real(fd, iov, cnt, off, flags);
}

int fsync(int fd) {
    REAL(int, "fsync", int);
    struct stat st;
    int op = (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) ? OP_DIRFSYNC : OP_FSYNC;
    FAIL_FD(op, fd, -1);
    return real(fd);
}

int fdatasync(int fd) {
    REAL(int, "fdatasync", int);
    FAIL_FD(OP_FDATASYNC, fd, -1);
    return real(fd);
}

static int path_fails(int op, int dirfd, const char *name) {
    char path[2 * PATH_MAX + 2];
    if (!prefix_len || !((ops | arm_op) & op)) return 0;
    at_path(dirfd, name, path, sizeof path);
    return fails(op, path);
}

int rename(const char *from, const char *to) {
    REAL(int, "rename", const char *, const char *);
    if (path_fails(OP_RENAME, AT_FDCWD, to)) { errno = err; return -1; }
    return real(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to) {
    REAL(int, "renameat", int, const char *, int, const char *);
    if (path_fails(OP_RENAME, tofd, to)) { errno = err; return -1; }
    return real(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags) {
    REAL(int, "renameat2", int, const char *, int, const char *, unsigned);
    if (path_fails(OP_RENAME, tofd, to)) { errno = err; return -1; }
    return real(fromfd, from, tofd, to, flags);
}

int link(const char *from, const char *to) {
    REAL(int, "link", const char *, const char *);
    if (path_fails(OP_LINK, AT_FDCWD, to)) { errno = err; return -1; }
    return real(from, to);
}

int linkat(int fromfd, const char *from, int tofd, const char *to, int flags) {
    REAL(int, "linkat", int, const char *, int, const char *, int);
    if (path_fails(OP_LINK, tofd, to)) { errno = err; return -1; }
    return real(fromfd, from, tofd, to, flags);
}
