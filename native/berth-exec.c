/*
 * berth-exec: runs one process inside a running container, doing what `runc exec` does for a
 * non-TTY process, without Go's start-up and runc's re-exec of `runc init` (~25-40 ms here).
 *
 *   berth-exec [options] -- PROGRAM [ARG...]
 *
 * The program's environment is berth-exec's own (PATH in it is searched for PROGRAM, as
 * runc does; HOME is added from the container's /etc/passwd when missing). stdin, stdout and
 * stderr are inherited. Options:
 *
 *   --pid PID            join the namespaces (ipc, uts, net, pid, mnt, cgroup) of the
 *                        container's init; without it the program runs on the host (tests)
 *   --cgroup-from PID    join PID's cgroups (every v1 hierarchy, and v2); default: --pid
 *   --cwd DIR            working directory (default /)
 *   --uid U --gid G      credentials (default: unchanged)
 *   --groups G1,G2,...   supplementary groups ("" = none; default with --uid: none)
 *   --cap-bounding HEX --cap-effective HEX --cap-permitted HEX --cap-inheritable HEX
 *   --cap-ambient HEX    capability sets as bit masks; if any is given, the others are empty
 *   --no-new-privs       PR_SET_NO_NEW_PRIVS
 *   --seccomp FILE       raw BPF (struct sock_filter[]) to load, as libseccomp exports it
 *   --seccomp-flags N    flags for seccomp(SECCOMP_SET_MODE_FILTER)
 *   --rlimit NAME=SOFT:HARD   (NAME: NOFILE or RLIMIT_NOFILE...; "unlimited" allowed)
 *   --oom-score-adj N
 *   --keyring NAME       join (or create) the named session keyring, as runc does (_ses.<id>)
 *   --status-fd N        report on fd N, once: "ok <pid>\n" when the program runs, or
 *                        "error <code> <message>\n" when it could not be started; the fd
 *                        stays open until berth-exec exits
 *   --wait-fd N          do the host-side preparation, then wait for one byte on fd N before
 *                        touching the container; EOF instead: exit 0 without running anything
 *                        (berthd starts us when an exec is created and lets us go at its start)
 *   --in-place           become the program, in the namespaces, cgroups and credentials we were
 *                        started with: only the seccomp filter, the capability sets and the PATH
 *                        lookup are done here, then execve. This is the seccomp loader a
 *                        container's init (and its runc execs) start through, so that runc need
 *                        not compile the profile on every create (runtime/seccomp-loader.ts).
 *                        runc ran us with CAP_SYS_ADMIN and CAP_SETPCAP added for that; the
 *                        --cap-* sets given here, applied before execve, take them away again.
 *
 * Exit status: the program's, 128+N if signal N killed it. If it never ran: 127 (not found),
 * 126 (found but not runnable, or bad cwd), 125 (berth-exec itself failed: usage, namespaces,
 * cgroups, credentials, seccomp). Without --status-fd such errors go to stderr prefixed
 * "berth-exec: "; with it they go only there (the container's stderr is the user's).
 *
 * Order of work, after runc's setns init (libcontainer/setns_init_linux.go):
 *   parent: not dumpable; read everything that lives on the host (BPF file, cgroup.procs
 *     files, cap_last_cap) and open the init's namespaces while still in the host's mount
 *     namespace (all before --wait-fd's gate); setns ipc, uts, net, pid (for children), mnt;
 *     fork.
 *   parent: moves the child into the init's cgroups (a grace period's wait, overlapped with
 *     the child's set-up), then lets it exec.
 *   child: setns cgroup; keyring; rlimits; NNP; seccomp
 *     here if no NNP (loading needs CAP_SYS_ADMIN then); chdir; bounding set; keep caps;
 *     stdio ownership; setgroups/setresgid/setresuid; chdir again if needed; capset; ambient;
 *     PATH lookup; parent-death signal; wait for the cgroups; seccomp here if NNP; execve.
 *   parent: forwards signals, waits, exits with the child's status.
 * The child is never dumpable before execve, so a container process cannot open its
 * /proc/<pid>/exe, root or fds (CVE-2019-5736) without CAP_SYS_PTRACE.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1

enum { EXIT_NOT_FOUND = 127, EXIT_CANNOT_RUN = 126, EXIT_FAILED = 125 };
enum { MAX_CGROUPS = 32, MAX_RLIMITS = 16, MAX_GROUPS = 65536, MAX_BPF_INSNS = 32768 };

extern char **environ;

struct rlimit_opt { int resource; struct rlimit value; };

static struct {
  pid_t pid;
  pid_t cgroup_from;
  const char *cwd;
  int set_user;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  size_t ngroups;
  int set_caps;
  uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
  int no_new_privs;
  const char *seccomp_file;
  unsigned int seccomp_flags;
  struct rlimit_opt rlimits[MAX_RLIMITS];
  size_t nrlimits;
  int set_oom;
  int oom_score_adj;
  const char *keyring;
  int status_fd;
  int wait_fd;
  int in_place;
  char **argv;
} opt = { .cwd = "/", .status_fd = -1, .wait_fd = -1 };

/* ---------------------------------------------------------------- reporting */

/* Go's errno texts, which Docker's messages carry, are glibc's with a lowercase first letter. */
static const char *errstr(int e) {
  static char buf[128];
  snprintf(buf, sizeof buf, "%s", strerror(e));
  buf[0] = (char)tolower((unsigned char)buf[0]);
  return buf;
}

static int err_pipe = -1; /* the child's end of the CLOEXEC pipe to the parent */

static void report(int code, const char *msg) {
  if (opt.status_fd >= 0) {
    dprintf(opt.status_fd, "error %d %s\n", code, msg);
  } else {
    dprintf(2, "berth-exec: %s\n", msg);
  }
}

/* Ends the process with `code` after reporting; in the child, the parent reports for it. */
static __attribute__((noreturn, format(printf, 2, 3))) void die(int code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  for (char *p = msg; *p; p++) if (*p == '\n') *p = ' ';
  if (err_pipe >= 0) {
    dprintf(err_pipe, "%d %s", code, msg);
  } else {
    report(code, msg);
  }
  _exit(code);
}

#define DIE_ERRNO(what, ...) die(EXIT_FAILED, what ": %s", ##__VA_ARGS__, errstr(errno))

/* ---------------------------------------------------------------- options */

static uint64_t parse_u64(const char *s, int base, const char *name) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, base);
  if (errno || end == s || *end) die(EXIT_FAILED, "invalid %s: %s", name, s);
  return v;
}

static long parse_long(const char *s, const char *name) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end) die(EXIT_FAILED, "invalid %s: %s", name, s);
  return v;
}

static const struct { const char *name; int resource; } RLIMITS[] = {
  { "CPU", RLIMIT_CPU }, { "FSIZE", RLIMIT_FSIZE }, { "DATA", RLIMIT_DATA }, { "STACK", RLIMIT_STACK },
  { "CORE", RLIMIT_CORE }, { "RSS", RLIMIT_RSS }, { "NPROC", RLIMIT_NPROC }, { "NOFILE", RLIMIT_NOFILE },
  { "MEMLOCK", RLIMIT_MEMLOCK }, { "AS", RLIMIT_AS }, { "LOCKS", RLIMIT_LOCKS },
  { "SIGPENDING", RLIMIT_SIGPENDING }, { "MSGQUEUE", RLIMIT_MSGQUEUE }, { "NICE", RLIMIT_NICE },
  { "RTPRIO", RLIMIT_RTPRIO }, { "RTTIME", RLIMIT_RTTIME },
};

static rlim_t parse_rlim(const char *s) {
  if (!strcmp(s, "unlimited") || !strcmp(s, "-1")) return RLIM_INFINITY;
  return (rlim_t)parse_u64(s, 10, "rlimit value");
}

static void parse_rlimit(const char *arg) {
  if (opt.nrlimits == MAX_RLIMITS) die(EXIT_FAILED, "too many --rlimit options");
  char buf[128];
  snprintf(buf, sizeof buf, "%s", arg);
  char *eq = strchr(buf, '='), *colon = eq ? strchr(eq, ':') : NULL;
  if (!eq || !colon) die(EXIT_FAILED, "invalid --rlimit %s (want NAME=SOFT:HARD)", arg);
  *eq = *colon = 0;
  const char *name = strncmp(buf, "RLIMIT_", 7) ? buf : buf + 7;
  struct rlimit_opt *r = &opt.rlimits[opt.nrlimits];
  r->resource = -1;
  for (size_t i = 0; i < sizeof RLIMITS / sizeof *RLIMITS; i++)
    if (!strcmp(RLIMITS[i].name, name)) r->resource = RLIMITS[i].resource;
  if (r->resource < 0) die(EXIT_FAILED, "unknown rlimit type %s", buf);
  r->value.rlim_cur = parse_rlim(eq + 1);
  r->value.rlim_max = parse_rlim(colon + 1);
  opt.nrlimits++;
}

static void parse_groups(const char *s) {
  opt.ngroups = 0;
  if (!*s) return;
  size_t n = 1;
  for (const char *p = s; *p; p++) n += *p == ',';
  if (n > MAX_GROUPS) die(EXIT_FAILED, "too many groups");
  opt.groups = calloc(n, sizeof *opt.groups);
  if (!opt.groups) die(EXIT_FAILED, "out of memory");
  char *copy = strdup(s), *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    opt.groups[opt.ngroups++] = (gid_t)parse_u64(t, 10, "group");
  free(copy);
}

static void parse_args(int argc, char **argv) {
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) { i++; break; }
    if (!strcmp(a, "--no-new-privs")) { opt.no_new_privs = 1; continue; }
    if (!strcmp(a, "--in-place")) { opt.in_place = 1; continue; }
    if (i + 1 >= argc) die(EXIT_FAILED, "unknown option or missing value: %s", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--pid")) opt.pid = (pid_t)parse_long(v, "--pid");
    else if (!strcmp(a, "--cgroup-from")) opt.cgroup_from = (pid_t)parse_long(v, "--cgroup-from");
    else if (!strcmp(a, "--cwd")) opt.cwd = v;
    else if (!strcmp(a, "--uid")) { opt.set_user = 1; opt.uid = (uid_t)parse_u64(v, 10, "--uid"); }
    else if (!strcmp(a, "--gid")) { opt.set_user = 1; opt.gid = (gid_t)parse_u64(v, 10, "--gid"); }
    else if (!strcmp(a, "--groups")) { opt.set_user = 1; parse_groups(v); }
    else if (!strcmp(a, "--cap-bounding")) { opt.set_caps = 1; opt.cap_bounding = parse_u64(v, 16, a); }
    else if (!strcmp(a, "--cap-effective")) { opt.set_caps = 1; opt.cap_effective = parse_u64(v, 16, a); }
    else if (!strcmp(a, "--cap-permitted")) { opt.set_caps = 1; opt.cap_permitted = parse_u64(v, 16, a); }
    else if (!strcmp(a, "--cap-inheritable")) { opt.set_caps = 1; opt.cap_inheritable = parse_u64(v, 16, a); }
    else if (!strcmp(a, "--cap-ambient")) { opt.set_caps = 1; opt.cap_ambient = parse_u64(v, 16, a); }
    else if (!strcmp(a, "--seccomp")) opt.seccomp_file = v;
    else if (!strcmp(a, "--seccomp-flags")) opt.seccomp_flags = (unsigned)parse_u64(v, 0, a);
    else if (!strcmp(a, "--rlimit")) parse_rlimit(v);
    else if (!strcmp(a, "--oom-score-adj")) { opt.set_oom = 1; opt.oom_score_adj = (int)parse_long(v, a); }
    else if (!strcmp(a, "--keyring")) opt.keyring = v;
    else if (!strcmp(a, "--status-fd")) opt.status_fd = (int)parse_long(v, a);
    else if (!strcmp(a, "--wait-fd")) opt.wait_fd = (int)parse_long(v, a);
    else die(EXIT_FAILED, "unknown option: %s", a);
  }
  if (i >= argc) die(EXIT_FAILED, "usage: berth-exec [options] -- PROGRAM [ARG...]");
  opt.argv = argv + i;
  if (!opt.cgroup_from) opt.cgroup_from = opt.pid;
}

/* ---------------------------------------------------------------- host-side preparation */

static char *read_file(const char *path, size_t max, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) { close(fd); errno = EINVAL; return NULL; }
  char *buf = malloc(max + 1);
  size_t n = 0;
  if (!buf) { close(fd); return NULL; }
  for (;;) {
    ssize_t r = read(fd, buf + n, max - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { int e = errno; free(buf); close(fd); errno = e; return NULL; }
    if (r == 0 || (n += (size_t)r) == max) break;
  }
  close(fd);
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

static struct sock_fprog seccomp_prog;

static void load_bpf_file(void) {
  size_t len;
  char *buf = read_file(opt.seccomp_file, MAX_BPF_INSNS * sizeof(struct sock_filter), &len);
  if (!buf) DIE_ERRNO("cannot read seccomp filter %s", opt.seccomp_file);
  if (len == 0 || len % sizeof(struct sock_filter)) die(EXIT_FAILED, "seccomp filter %s: not a BPF program (%zu bytes)", opt.seccomp_file, len);
  seccomp_prog.len = (unsigned short)(len / sizeof(struct sock_filter));
  seccomp_prog.filter = (struct sock_filter *)buf;
}

static int cgroup_fds[MAX_CGROUPS];
static size_t ncgroup_fds;

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] && r[3]) {
      *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = 0;
}

/* Whether every controller of the comma list `want` is among the super options `have`. */
static int has_controllers(const char *want, const char *have) {
  char w[256];
  snprintf(w, sizeof w, "%s", want);
  char *save = NULL;
  for (char *c = strtok_r(w, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
    size_t n = strlen(c);
    const char *p = have;
    int found = 0;
    while (*p) {
      const char *end = strchr(p, ',');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      if (len == n && !strncmp(p, c, n)) { found = 1; break; }
      if (!end) break;
      p = end + 1;
    }
    if (!found) return 0;
  }
  return 1;
}

/*
 * Where the hierarchy holding `controllers` ("" for cgroup2) shows `cgpath` in our mount
 * namespace: the first cgroup mount of it whose root contains the path.
 */
static int cgroup_dir(char *mountinfo, const char *controllers, const char *cgpath, char *out, size_t outlen) {
  for (char *line = mountinfo; line && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next = 0;
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", line);
    if (next) *next = '\n';
    line = next ? next + 1 : NULL;

    char *sep = strstr(copy, " - ");
    if (!sep) continue;
    *sep = 0;
    char *fstype = sep + 3, *source = strchr(fstype, ' ');
    if (!source) continue;
    *source++ = 0;
    char *super = strchr(source, ' ');
    if (!super) continue;
    super++;
    int v2 = !strcmp(fstype, "cgroup2");
    if (!v2 && strcmp(fstype, "cgroup")) continue;
    if (v2 != (*controllers == 0)) continue;
    if (!v2 && !has_controllers(controllers, super)) continue;

    char *f[5] = { 0 }, *save = NULL;
    char *t = strtok_r(copy, " ", &save);
    for (int i = 0; i < 5 && t; i++, t = strtok_r(NULL, " ", &save)) f[i] = t;
    if (!f[4]) continue;
    unescape(f[3]);
    unescape(f[4]);
    const char *root = f[3], *rel = cgpath;
    if (strcmp(root, "/")) {
      size_t n = strlen(root);
      if (strncmp(cgpath, root, n) || (cgpath[n] && cgpath[n] != '/')) continue;
      rel = cgpath + n;
    }
    snprintf(out, outlen, "%s%s", f[4], rel);
    return 0;
  }
  return -1;
}

static void open_cgroups(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cgroup", (int)opt.cgroup_from);
  char *cgroups = read_file(path, 1 << 16, NULL);
  if (!cgroups) DIE_ERRNO("cannot read %s", path);
  FILE *mf = fopen("/proc/self/mountinfo", "re");
  if (!mf) DIE_ERRNO("cannot read /proc/self/mountinfo");
  size_t cap = 1 << 16, len = 0;
  char *mountinfo = malloc(cap);
  for (size_t r; (r = fread(mountinfo + len, 1, cap - len - 1, mf)) > 0;) {
    len += r;
    if (cap - len < 2) mountinfo = realloc(mountinfo, cap *= 2);
  }
  mountinfo[len] = 0;
  fclose(mf);

  char *save = NULL;
  for (char *line = strtok_r(cgroups, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    /* hierarchy-id:controllers:path */
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c1 = *c2 = 0;
    const char *controllers = c1 + 1, *cgpath = c2 + 1;
    char dir[PATH_MAX];
    if (cgroup_dir(mountinfo, controllers, cgpath, dir, sizeof dir - 16)) continue; /* not mounted here */
    if (ncgroup_fds == MAX_CGROUPS) die(EXIT_FAILED, "too many cgroup hierarchies");
    strcat(dir, "/cgroup.procs");
    int fd = open(dir, O_WRONLY | O_CLOEXEC);
    if (fd < 0) DIE_ERRNO("cannot join cgroup %s", dir);
    cgroup_fds[ncgroup_fds++] = fd;
  }
  free(mountinfo);
  free(cgroups);
}

static const char *const NAMESPACES[] = { "ipc", "uts", "net", "pid", "mnt" };

static int open_ns(const char *name) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)opt.pid, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) DIE_ERRNO("cannot open %s", path);
  return fd;
}

static int same_ns(const char *name) {
  char theirs[64], ours[64];
  struct stat a, b;
  snprintf(theirs, sizeof theirs, "/proc/%d/ns/%s", (int)opt.pid, name);
  snprintf(ours, sizeof ours, "/proc/self/ns/%s", name);
  if (stat(theirs, &a)) {
    if (errno == ENOENT) return 1; /* the kernel lacks this namespace type */
    DIE_ERRNO("cannot stat %s", theirs);
  }
  if (stat(ours, &b)) DIE_ERRNO("cannot stat %s", ours);
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* ---------------------------------------------------------------- child */

static void write_all(int fd, const char *s, const char *what) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) DIE_ERRNO("%s", what);
    s += w;
    n -= (size_t)w;
  }
}

static void set_keep_caps(int on) {
  if (prctl(PR_SET_KEEPCAPS, on, 0, 0, 0)) DIE_ERRNO("prctl(PR_SET_KEEPCAPS)");
}

static void load_seccomp(void) {
  int rc = opt.seccomp_flags
    ? (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, opt.seccomp_flags, &seccomp_prog)
    : prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &seccomp_prog, 0, 0);
  if (rc) DIE_ERRNO("error loading seccomp filter into kernel");
}

/* runc's fixStdioPermissions: stdio the daemon made (pipes) becomes the user's, so that
 * /proc/self/fd/N and /dev/stdout can be reopened by a non-root user. */
static void fix_stdio_owner(void) {
  struct stat null, st;
  if (stat("/dev/null", &null)) DIE_ERRNO("stat /dev/null");
  for (int fd = 0; fd < 3; fd++) {
    if (fstat(fd, &st)) {
      if (errno == EBADF) continue;
      DIE_ERRNO("fstat fd %d", fd);
    }
    if (st.st_uid == opt.uid || st.st_rdev == null.st_rdev) continue;
    if (fchown(fd, opt.uid, st.st_gid) && errno != EINVAL && errno != EPERM && errno != EROFS)
      DIE_ERRNO("chown fd %d", fd);
  }
}

/* The user's home from the container's /etc/passwd (runc's default: /). */
static char *home_of(uid_t uid) {
  static char home[PATH_MAX] = "/";
  char *passwd = read_file("/etc/passwd", 1 << 20, NULL);
  if (!passwd) return home;
  char *save = NULL;
  for (char *line = strtok_r(passwd, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *f[7] = { 0 };
    int n = 0;
    for (char *p = line; n < 7 && p; n++) {
      f[n] = p;
      p = strchr(p, ':');
      if (p) *p++ = 0;
    }
    if (n < 6 || !*f[2]) continue;
    char *end;
    unsigned long u = strtoul(f[2], &end, 10);
    if (*end || u != uid) continue;
    snprintf(home, sizeof home, "%s", f[5]);
    break;
  }
  free(passwd);
  return home;
}

static char **environment(uid_t uid) {
  size_t n = 0;
  int has_home = 0;
  for (char **e = environ; *e; e++, n++) if (!strncmp(*e, "HOME=", 5)) has_home = 1;
  if (has_home) return environ;
  char **env = calloc(n + 2, sizeof *env);
  if (!env) die(EXIT_FAILED, "out of memory");
  memcpy(env, environ, n * sizeof *env);
  const char *home = home_of(uid);
  env[n] = malloc(strlen(home) + 6);
  if (!env[n]) die(EXIT_FAILED, "out of memory");
  sprintf(env[n], "HOME=%s", home);
  return env;
}

static const char *env_get(char **env, const char *name) {
  size_t n = strlen(name);
  for (char **e = env; *e; e++) if (!strncmp(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}

/* 0, or why `path` cannot be run: Go's exec.findExecutable. */
static int executable(const char *path) {
  struct stat st;
  if (stat(path, &st)) return errno;
  if (S_ISDIR(st.st_mode)) return EISDIR;
  return st.st_mode & 0111 ? 0 : EACCES;
}

/* Go's exec.LookPath on the container's PATH, with its error texts, as runc reports them. */
static char *look_path(const char *name, char **env) {
  if (strchr(name, '/')) {
    int e = executable(name);
    if (e == ENOENT || e == ENOTDIR)
      die(EXIT_NOT_FOUND, "exec: \"%s\": stat %s: %s", name, name, errstr(e));
    if (e) die(EXIT_CANNOT_RUN, "exec: \"%s\": %s", name, errstr(e));
    return (char *)name;
  }
  const char *path = env_get(env, "PATH");
  if (path && *name) {
    static char full[PATH_MAX];
    const char *p = path;
    for (;;) {
      const char *end = strchr(p, ':');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      if (len == 0) snprintf(full, sizeof full, "./%s", name);
      else snprintf(full, sizeof full, "%.*s/%s", (int)len, p, name);
      if (!executable(full)) return full;
      if (!end) break;
      p = end + 1;
    }
  }
  die(EXIT_NOT_FOUND, "exec: \"%s\": executable file not found in $PATH", name);
}

static void apply_caps(void) {
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2] = {
    { (uint32_t)opt.cap_effective, (uint32_t)opt.cap_permitted, (uint32_t)opt.cap_inheritable },
    { (uint32_t)(opt.cap_effective >> 32), (uint32_t)(opt.cap_permitted >> 32), (uint32_t)(opt.cap_inheritable >> 32) },
  };
  if (syscall(SYS_capset, &hdr, data)) DIE_ERRNO("unable to apply caps: capset");
  /* As runc: ambient capabilities that cannot be raised are skipped, not fatal. */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0) {
    for (int c = 0; c < 64; c++)
      if (opt.cap_ambient >> c & 1) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
  }
}

static int cap_last_cap = 40;

static void drop_bounding(void) {
  for (int c = 0; c <= cap_last_cap && c < 64; c++) {
    if (opt.cap_bounding >> c & 1) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL)
      DIE_ERRNO("unable to apply bounding set: drop capability %d", c);
  }
}

/* Docker's exit code follows the text: 127 for "no such file or directory", else 126. */
static __attribute__((noreturn)) void chdir_failed(void) {
  die(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN, "chdir to cwd (\"%s\") set in config.json failed: %s", opt.cwd, errstr(errno));
}

/* `parent`: what getppid() says while the parent lives (0 when it is outside our pid namespace). */
static __attribute__((noreturn)) void child(int ns_cgroup, int cgroups_joined, const sigset_t *oldmask, pid_t parent) {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) DIE_ERRNO("prctl(PR_SET_DUMPABLE)");
  for (size_t i = 0; i < ncgroup_fds; i++) close(cgroup_fds[i]);
  if (ns_cgroup >= 0) {
    if (setns(ns_cgroup, CLONE_NEWCGROUP)) DIE_ERRNO("cannot join the container's cgroup namespace");
    close(ns_cgroup);
  }
  if (opt.keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, opt.keyring) < 0 && errno != ENOSYS)
    DIE_ERRNO("unable to join session keyring");
  for (size_t i = 0; i < opt.nrlimits; i++)
    if (setrlimit(opt.rlimits[i].resource, &opt.rlimits[i].value)) DIE_ERRNO("error setting rlimit type %d", opt.rlimits[i].resource);
  if (opt.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) DIE_ERRNO("prctl(PR_SET_NO_NEW_PRIVS)");
  /* Without NNP, loading a filter needs CAP_SYS_ADMIN: do it before dropping privileges. */
  if (opt.seccomp_file && !opt.no_new_privs) load_seccomp();

  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) && errno != ENOSYS && errno != EINVAL)
    DIE_ERRNO("error closing exec fds");
  int chdir_later = 0;
  if (chdir(opt.cwd)) {
    if (errno != EACCES && errno != EPERM) chdir_failed();
    chdir_later = 1; /* a directory only the container's user may enter */
  }
  if (opt.set_caps) {
    drop_bounding();
    set_keep_caps(1);
  }
  char **env = environment(opt.set_user ? opt.uid : getuid());
  if (opt.set_user) {
    fix_stdio_owner();
    if (setgroups(opt.ngroups, opt.groups)) DIE_ERRNO("unable to setup user: setgroups");
    if (setresgid(opt.gid, opt.gid, opt.gid)) DIE_ERRNO("unable to setup user: setgid %u", (unsigned)opt.gid);
    if (setresuid(opt.uid, opt.uid, opt.uid)) DIE_ERRNO("unable to setup user: setuid %u", (unsigned)opt.uid);
  }
  if (chdir_later && chdir(opt.cwd)) chdir_failed();
  if (opt.set_caps) {
    set_keep_caps(0);
    apply_caps();
  }
  char *path = look_path(opt.argv[0], env);

  /* Credential changes clear the parent-death signal, so it is set last; then make sure the
   * parent did not die before it was set (we would have been reparented). */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) DIE_ERRNO("prctl(PR_SET_PDEATHSIG)");
  if (getppid() != parent) _exit(EXIT_FAILED);
  /* The parent moves us into the container's cgroups meanwhile: wait for that before execve. */
  char joined;
  ssize_t r;
  while ((r = read(cgroups_joined, &joined, 1)) < 0 && errno == EINTR) {}
  if (r != 1) _exit(EXIT_FAILED); /* the parent could not move us: it reports why */
  if (sigprocmask(SIG_SETMASK, oldmask, NULL)) DIE_ERRNO("sigprocmask");
  if (opt.seccomp_file && opt.no_new_privs) load_seccomp();
  execve(path, opt.argv, env);
  die(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN, "exec %s: %s", path, errstr(errno));
}

/* ---------------------------------------------------------------- in place */

/* The tail of runc's standard init (libcontainer/standard_init_linux.go), in its order: the
 * filter first when there is no NNP (loading needs CAP_SYS_ADMIN then, so it also filters the
 * capability calls after it, as runc's does), else last, just before execve. Everything else
 * (rlimits, NNP, user, cwd, stdio) runc has done; the environment is passed on untouched. */
static __attribute__((noreturn)) void in_place(void) {
  if (opt.seccomp_file && !opt.no_new_privs) load_seccomp();
  if (opt.set_caps) {
    drop_bounding();
    apply_caps();
  }
  char *path = look_path(opt.argv[0], environ);
  if (opt.seccomp_file && opt.no_new_privs) load_seccomp();
  execve(path, opt.argv, environ);
  die(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN, "exec %s: %s", path, errstr(errno));
}

/* ---------------------------------------------------------------- parent */

static void wait_for_go(void) {
  char go;
  ssize_t r;
  while ((r = read(opt.wait_fd, &go, 1)) < 0 && errno == EINTR) {}
  if (r < 0) DIE_ERRNO("--wait-fd %d", opt.wait_fd);
  if (r == 0) exit(0); /* called off */
  close(opt.wait_fd);
}

static volatile pid_t child_pid;

static void forward(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

static const int FORWARDED[] = {
  SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH,
};

static int wait_child(void) {
  int status;
  for (;;) {
    pid_t r = waitpid(child_pid, &status, 0);
    if (r == child_pid) break;
    if (r < 0 && errno != EINTR) DIE_ERRNO("waitpid");
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return EXIT_FAILED;
}

int main(int argc, char **argv) {
  /* Not dumpable from the start: the child inherits it until execve, so no container process
   * can open our /proc entries (exe, root, fds) meanwhile. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  parse_args(argc, argv);
  if (opt.status_fd >= 0 && fcntl(opt.status_fd, F_SETFD, FD_CLOEXEC)) DIE_ERRNO("--status-fd %d", opt.status_fd);

  /* Everything that lives on the host is read before leaving the host's mount namespace. */
  if (opt.set_caps) {
    char *s = read_file("/proc/sys/kernel/cap_last_cap", 32, NULL);
    if (s) cap_last_cap = atoi(s);
    free(s);
  }
  if (opt.seccomp_file) load_bpf_file();
  if (opt.in_place) in_place();
  /* The container's cgroups and namespaces are opened before the gate too: a prepared exec
   * then has only the joining left when its start lets it go (~0.5 ms less on the start).
   * Opening them puts nothing in the container; a restart of the container calls the exec
   * off, and berthd refuses to start one in a container that has stopped. */
  if (opt.cgroup_from) open_cgroups();
  if (opt.set_oom) {
    char v[16];
    snprintf(v, sizeof v, "%d", opt.oom_score_adj);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) DIE_ERRNO("cannot set oom_score_adj");
    write_all(fd, v, "cannot set oom_score_adj");
    close(fd);
  }
  int ns_cgroup = -1;
  int ns_fds[5] = { -1, -1, -1, -1, -1 };
  pid_t parent = getpid();
  if (opt.pid) {
    if (!same_ns("pid")) parent = 0;
    if (!same_ns("user")) die(EXIT_FAILED, "the container has its own user namespace, which berth-exec does not join");
    if (!same_ns("time")) die(EXIT_FAILED, "the container has its own time namespace, which berth-exec does not join");
    for (int i = 0; i < 5; i++) ns_fds[i] = open_ns(NAMESPACES[i]);
    if (!same_ns("cgroup")) ns_cgroup = open_ns("cgroup");
  }
  if (opt.wait_fd >= 0) wait_for_go();
  if (opt.pid) {
    static const int types[5] = { CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWNS };
    for (int i = 0; i < 5; i++) {
      if (setns(ns_fds[i], types[i])) DIE_ERRNO("cannot join the container's %s namespace", NAMESPACES[i]);
      close(ns_fds[i]);
    }
  }

  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  struct sigaction sa = { .sa_handler = forward };
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof FORWARDED / sizeof *FORWARDED; i++) sigaction(FORWARDED[i], &sa, NULL);

  int pipefd[2], joined[2];
  if (pipe2(pipefd, O_CLOEXEC) || pipe2(joined, O_CLOEXEC)) DIE_ERRNO("pipe");
  pid_t pid = fork();
  if (pid < 0) DIE_ERRNO("fork");
  if (pid == 0) {
    close(pipefd[0]);
    close(joined[1]);
    err_pipe = pipefd[1];
    for (size_t i = 0; i < sizeof FORWARDED / sizeof *FORWARDED; i++) signal(FORWARDED[i], SIG_DFL);
    child(ns_cgroup, joined[0], &old, parent);
  }
  child_pid = pid;
  signal(SIGPIPE, SIG_IGN); /* a child that died early, or a caller gone: EPIPE, not death */
  close(pipefd[1]);
  close(joined[0]);
  if (ns_cgroup >= 0) close(ns_cgroup);
  /* Moving a process between cgroups waits for an RCU grace period (ms): done here, by host
   * pid, while the child sets itself up, instead of by the child first. */
  char pidstr[16];
  snprintf(pidstr, sizeof pidstr, "%d", (int)pid);
  int cgroup_errno = 0;
  for (size_t i = 0; i < ncgroup_fds; i++) {
    ssize_t w;
    while ((w = write(cgroup_fds[i], pidstr, strlen(pidstr))) < 0 && errno == EINTR) {}
    if (w < 0 && !cgroup_errno) cgroup_errno = errno;
    close(cgroup_fds[i]);
  }
  /* Without the byte, the child ends silently before execve. */
  if (!cgroup_errno && write(joined[1], "1", 1) != 1) cgroup_errno = errno;
  close(joined[1]);
  sigprocmask(SIG_SETMASK, &old, NULL);

  /* EOF without a message: execve succeeded (the pipe is close-on-exec). */
  char msg[1100];
  size_t n = 0;
  for (;;) {
    ssize_t r = read(pipefd[0], msg + n, sizeof msg - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
    if (n == sizeof msg - 1) break;
  }
  close(pipefd[0]);
  msg[n] = 0;
  if (n == 0 && cgroup_errno) {
    wait_child();
    errno = cgroup_errno;
    DIE_ERRNO("cannot join the container's cgroup");
  }
  if (n > 0) {
    int status = wait_child();
    char *text = strchr(msg, ' ');
    int code = atoi(msg);
    report(code ? code : status, text ? text + 1 : msg);
    return code ? code : status;
  }
  /* The status fd stays open until we exit: its EOF tells berthd when to reap us. */
  if (opt.status_fd >= 0) dprintf(opt.status_fd, "ok %d\n", (int)pid);
  return wait_child();
}
