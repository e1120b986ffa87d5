/* The recorder of tests/ingest/test_power_loss.py: an LD_PRELOAD library that keeps, for
 * every fsync/fdatasync of a file or folder under $POWERCUT_ROOT, what the disk holds durably
 * once that call returns: a file's whole contents (NNNNNN.bin), a folder's entries
 * (NNNNNN.dir: inode, mode, mtime, name), and one line in $POWERCUT_RECORD/journal. The
 * copy is taken before the real call, under a lock, so the journal order is the sync order.
 * sync() and syncfs() are journalled too (the test's model does not cover them: it fails).
 * SQLite's syncs are C calls into libc: a preload sees them as it sees Python's os.fsync. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static void (*real_sync)(void);
static int (*real_syncfs)(int);

static void journal_line(const char *dir, const char *line) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/journal", dir);
  int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) abort();
  size_t n = strlen(line);
  if (write(fd, line, n) != (ssize_t)n) abort();
  close(fd);
}

static long next_seq(const char *dir) {
  char p[PATH_MAX];
  long seq = 0;
  snprintf(p, sizeof p, "%s/seq", dir);
  FILE *f = fopen(p, "r");
  if (f) { if (fscanf(f, "%ld", &seq) != 1) abort(); fclose(f); }
  f = fopen(p, "w");
  if (!f) abort();
  fprintf(f, "%ld\n", seq + 1);
  fclose(f);
  return seq;
}

static void record(int fd, const char *how) {
  const char *root = getenv("POWERCUT_ROOT"), *dir = getenv("POWERCUT_RECORD");
  char self[64], path[PATH_MAX], line[PATH_MAX + 256], out[PATH_MAX];
  if (!root || !dir) return;
  snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(self, path, sizeof path - 1);
  if (n < 0) return;
  path[n] = 0;
  size_t rl = strlen(root);
  if (strncmp(path, root, rl) != 0 || (path[rl] != '/' && path[rl] != 0)) return;
  struct stat st;
  if (fstat(fd, &st) < 0) abort();
  long seq = next_seq(dir);
  if (S_ISDIR(st.st_mode)) {
    snprintf(out, sizeof out, "%s/%06ld.dir", dir, seq);
    FILE *o = fopen(out, "w");
    int d = open(self, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dp = d < 0 ? NULL : fdopendir(d);
    if (!o || !dp) abort();
    struct dirent *e;
    while ((e = readdir(dp))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      struct stat es;
      if (fstatat(d, e->d_name, &es, AT_SYMLINK_NOFOLLOW) < 0) continue;
      fprintf(o, "%lu %o %lld %s\n", (unsigned long)es.st_ino, es.st_mode,
              (long long)es.st_mtim.tv_sec * 1000000000LL + es.st_mtim.tv_nsec, e->d_name);
    }
    closedir(dp);
    fclose(o);
    snprintf(line, sizeof line, "%06ld dir %s %lu %s\n", seq, how, (unsigned long)st.st_ino, path);
  } else {
    snprintf(out, sizeof out, "%s/%06ld.bin", dir, seq);
    int src = open(self, O_RDONLY | O_CLOEXEC);
    int dst = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (src < 0 || dst < 0) abort();
    char buf[65536];
    ssize_t r;
    while ((r = read(src, buf, sizeof buf)) > 0)
      if (write(dst, buf, r) != r) abort();
    if (r < 0) abort();
    close(src);
    close(dst);
    snprintf(line, sizeof line, "%06ld file %s %lu %o %lld %s\n", seq, how, (unsigned long)st.st_ino,
             st.st_mode, (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, path);
  }
  journal_line(dir, line);
}

static void whole(const char *what) {
  const char *dir = getenv("POWERCUT_RECORD");
  char line[128];
  if (!dir) return;
  pthread_mutex_lock(&lock);
  snprintf(line, sizeof line, "%06ld %s\n", next_seq(dir), what);
  journal_line(dir, line);
  pthread_mutex_unlock(&lock);
}

void sync(void) {
  if (!real_sync) real_sync = dlsym(RTLD_NEXT, "sync");
  whole("sync");
  real_sync();
}

int syncfs(int fd) {
  if (!real_syncfs) real_syncfs = dlsym(RTLD_NEXT, "syncfs");
  whole("syncfs");
  return real_syncfs(fd);
}

int fsync(int fd) {
  if (!real_fsync) real_fsync = dlsym(RTLD_NEXT, "fsync");
  pthread_mutex_lock(&lock);
  record(fd, "fsync");
  int rc = real_fsync(fd);
  pthread_mutex_unlock(&lock);
  return rc;
}

int fdatasync(int fd) {
  if (!real_fdatasync) real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
  pthread_mutex_lock(&lock);
  record(fd, "fdatasync");
  int rc = real_fdatasync(fd);
  pthread_mutex_unlock(&lock);
  return rc;
}
