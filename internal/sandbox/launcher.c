/*
 * The only code that runs between fork() and exec(): a small interpreter of
 * setup operations planned in TypeScript (ops.ts). Compiled at run time by
 * bun:ffi's TinyCC; it declares its own prototypes so that no system headers
 * are needed. Only system calls are made in the child (async-signal-safe).
 *
 * Protocol with the parent (the JavaScript process):
 *   - the child reports on `report` (a CLOEXEC pipe) records of two int32:
 *       {-2, pid}      the pid (host) of the process that will exec the builder
 *       {-3, status}   its wait status, sent by the reaping intermediate
 *       {op, errno}    operation `op` failed with `errno`; the child exits
 *     exec closes the builder's copy of the pipe.
 *   - with a user namespace, the child writes 'R' on `sync` after unshare()
 *     and waits for 'G' once the parent has written its uid/gid maps.
 */

typedef unsigned long size_t;
typedef long ssize_t;

extern int fork(void);
extern void _exit(int);
extern ssize_t write(int, const void *, size_t);
extern ssize_t read(int, void *, size_t);
extern int close(int);
extern int dup2(int, int);
extern int pipe2(int *, int);
extern int open(const char *, int, ...);
extern int unshare(int);
extern int mount(const char *, const char *, const char *, unsigned long, const void *);
extern int umount2(const char *, int);
extern int chdir(const char *);
extern int chroot(const char *);
extern int rmdir(const char *);
extern int chmod(const char *, unsigned int);
extern int symlink(const char *, const char *);
extern int sethostname(const char *, size_t);
extern int setdomainname(const char *, size_t);
extern int setgroups(size_t, const unsigned int *);
extern int setgid(unsigned int);
extern int setuid(unsigned int);
extern int setsid(void);
extern int personality(unsigned long);
extern int setrlimit(int, const void *);
extern unsigned int umask(unsigned int);
extern int execve(const char *, char *const *, char *const *);
extern int waitpid(int, int *, int);
extern int socket(int, int, int);
extern int ioctl(int, unsigned long, ...);
extern int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long);
extern long syscall(long, ...);
extern int *__errno_location(void);
extern int sigprocmask(int, const void *, void *);
extern void *signal(int, void *);
extern int posix_openpt(int);
extern int grantpt(int);
extern int unlockpt(int);
extern char *ptsname(int);
extern int tcgetattr(int, void *);
extern int tcsetattr(int, int, const void *);
extern void cfmakeraw(void *);
extern int kill(int, int);
extern int getpid(void);
extern int getppid(void);
extern int clone(int (*)(void *), void *, int, void *, ...);
extern int sched_setaffinity(int, size_t, const void *);

#define CLONE_VM 0x00000100
#define CLONE_VFORK 0x00004000
#define SIGCHLD 17

#define O_RDWR 02
#define O_WRONLY 01
#define O_NOCTTY 0400
#define O_CLOEXEC 02000000
#define SYS_pivot_root 155
#define SYS_close_range 436

enum {
  OP_END = 0, OP_UNSHARE = 1, OP_SYNC_USERNS = 2, OP_FORK_PID1 = 3, OP_MOUNT = 4, OP_PIVOT_ROOT = 5,
  OP_CHDIR = 6, OP_SETHOSTNAME = 7, OP_SETDOMAINNAME = 8, OP_LOOPBACK_UP = 9, OP_SETGROUPS = 10,
  OP_SETGID = 11, OP_SETUID = 12, OP_PERSONALITY = 13, OP_SETSID = 14, OP_NO_CORE = 15, OP_UMASK = 16,
  OP_DUP2 = 17, OP_EXEC = 18, OP_CHMOD = 19, OP_SYMLINK = 20, OP_NO_NEW_PRIVS = 21, OP_UMOUNT_DETACH = 22,
  OP_RMDIR = 23, OP_CHROOT = 24, OP_CLOSE_OTHER_FDS = 25, OP_OPEN_STDIN_NULL = 26, OP_SET_AFFINITY = 27
};

/* One operation: {op, a, b, c, s1, s2, s3, s4}; s* are offsets into the string table or -1. */
#define OP_WORDS 8

static int report_fd = -1;
/* The launching process: when it dies, so does the build (see die_with_parent). */
static int launcher_pid = -1;

static void report(int a, int b) {
  int rec[2];
  rec[0] = a;
  rec[1] = b;
  write(report_fd, rec, 8);
}

static void fail(int index) {
  report(index, *__errno_location());
  _exit(127);
}

/* SIGKILL when the parent goes, so that no build outlives the process that
   started it (a daemon stopped or killed mid-build). Set after the last change
   of credentials, which clears it; a parent already gone (when it can be seen:
   `parent` > 0) means exit now. */
static void die_with_parent(int parent) {
  prctl(1 /* PR_SET_PDEATHSIG */, 9 /* SIGKILL */, 0, 0, 0);
  if (parent > 0 && getppid() != parent) _exit(127);
}

static const char *str(const char *strings, long offset) {
  return offset < 0 ? (const char *)0 : strings + offset;
}

static void reset_signals(void) {
  unsigned long empty[16];
  int i;
  for (i = 0; i < 16; i++) empty[i] = 0;
  sigprocmask(2 /* SIG_SETMASK */, empty, (void *)0);
  for (i = 1; i < 32; i++) if (i != 9 && i != 19) signal(i, (void *)0 /* SIG_DFL */);
}

static int loopback_up(void) {
  unsigned char ifr[40];
  int fd, i;
  for (i = 0; i < 40; i++) ifr[i] = 0;
  ifr[0] = 'l'; ifr[1] = 'o';
  *(short *)(ifr + 16) = 0x1 | 0x8 | 0x40; /* IFF_UP | IFF_LOOPBACK | IFF_RUNNING */
  fd = socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0);
  if (fd < 0) return -1;
  if (ioctl(fd, 0x8914 /* SIOCSIFFLAGS */, ifr) < 0) return -1;
  close(fd);
  return 0;
}

static void run_ops(const long *ops, const char *strings, int sync_read, int sync_write, int start);

/* The builder's process shares the (single-threaded) intermediate's memory
   until it execs: no second copy of the page tables of a large parent. */
static char pid1_stack[256 * 1024];
static const long *pid1_ops;
static const char *pid1_strings;
static int pid1_start;

static int pid1_main(void *unused) {
  run_ops(pid1_ops, pid1_strings, -1, -1, pid1_start);
  return 127;
}

/* Runs in the child: never returns. */
static void run_ops(const long *ops, const char *strings, int sync_read, int sync_write, int start) {
  int index;
  for (index = start;; index++) {
    const long *o = ops + index * OP_WORDS;
    const char *s1 = str(strings, o[4]), *s2 = str(strings, o[5]), *s3 = str(strings, o[6]), *s4 = str(strings, o[7]);
    int r = 0;
    switch ((int)o[0]) {
    case OP_END:
      _exit(0);
    case OP_UNSHARE: r = unshare((int)o[1]); break;
    case OP_SYNC_USERNS: {
      char c = 'R';
      if (write(sync_write, &c, 1) != 1 || read(sync_read, &c, 1) != 1 || c != 'G') fail(index);
      close(sync_read);
      close(sync_write);
      break;
    }
    case OP_FORK_PID1: {
      int pid, status = 0;
      pid1_ops = ops;
      pid1_strings = strings;
      pid1_start = index + 1;
      pid = clone(pid1_main, pid1_stack + sizeof(pid1_stack) - 64, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)0);
      if (pid < 0) fail(index);
      if (pid > 0) {
        /* The intermediate: report the builder's pid, reap it, pass on its status. */
        die_with_parent(launcher_pid);
        report(-2, pid);
        while (waitpid(pid, &status, 0) < 0) if (*__errno_location() != 4 /* EINTR */) break;
        report(-3, status);
        _exit(0);
      }
      break;
    }
    case OP_MOUNT: r = mount(s1, s2, s3, (unsigned long)o[1], s4); break;
    case OP_PIVOT_ROOT: r = (int)syscall(SYS_pivot_root, s1, s2); break;
    case OP_CHDIR: r = chdir(s1); break;
    case OP_CHROOT: r = chroot(s1); break;
    case OP_UMOUNT_DETACH: r = umount2(s1, 2 /* MNT_DETACH */); break;
    case OP_RMDIR: r = rmdir(s1); break;
    case OP_CHMOD: r = chmod(s1, (unsigned int)o[1]); break;
    case OP_SYMLINK: r = symlink(s1, s2); break;
    case OP_SETHOSTNAME: r = sethostname(s1, (size_t)o[1]); break;
    case OP_SETDOMAINNAME: r = setdomainname(s1, (size_t)o[1]); break;
    case OP_LOOPBACK_UP: r = loopback_up(); break;
    case OP_SETGROUPS: r = setgroups((size_t)o[1], (const unsigned int *)o[2]); break;
    case OP_SETGID: r = setgid((unsigned int)o[1]); break;
    case OP_SETUID: r = setuid((unsigned int)o[1]); break;
    case OP_PERSONALITY: {
      int current = personality(0xffffffff);
      r = current < 0 ? -1 : personality((unsigned long)(current | (int)o[1]));
      break;
    }
    case OP_SETSID: r = setsid(); break;
    case OP_NO_CORE: {
      unsigned long limit[2];
      limit[0] = 0; limit[1] = 0;
      r = setrlimit(4 /* RLIMIT_CORE */, limit);
      break;
    }
    case OP_UMASK: umask((unsigned int)o[1]); break;
    case OP_NO_NEW_PRIVS: r = prctl(38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0); break;
    case OP_SET_AFFINITY: r = sched_setaffinity(0, (size_t)o[1], (const void *)o[2]); break;
    case OP_DUP2: r = dup2((int)o[1], (int)o[2]); break;
    case OP_OPEN_STDIN_NULL: {
      int fd = open(s1, O_RDWR);
      if (fd < 0 || dup2(fd, 0) < 0) fail(index);
      if (fd != 0) close(fd);
      break;
    }
    case OP_CLOSE_OTHER_FDS:
      /* Everything but 0-2 and the report pipe (which closes itself at exec). */
      if (report_fd > 3) syscall(SYS_close_range, 3, report_fd - 1, 0);
      r = (int)syscall(SYS_close_range, report_fd + 1, ~0U, 0);
      break;
    case OP_EXEC:
      /* The builder's parent: the intermediate, outside its PID namespace (getppid() is 0 there), or the launcher. */
      die_with_parent(pid1_start > 0 ? 0 : launcher_pid);
      execve(s1, (char *const *)o[1], (char *const *)o[2]);
      fail(index);
      break;
    default:
      *__errno_location() = 22; /* EINVAL */
      fail(index);
    }
    if (r < 0) fail(index);
  }
}

/*
 * Forks a child that runs `ops`. With `uid_map` set, the parent writes the
 * child's maps once it has unshared its user namespace. out[0] = child pid,
 * out[1] = read end of the report pipe, out[2] = builder pid or -1 if setup
 * failed first, in which case out[3] = the failed op and out[4] = errno.
 * Returns 0, or -errno when the fork itself failed.
 */
int bunix_launch(const long *ops, const char *strings, const char *uid_map, const char *gid_map, int *out /* [5] */) {
  int report_pipe[2], to_parent[2], to_child[2];
  int pid, rec[2];
  char path[64], c;
  if (pipe2(report_pipe, O_CLOEXEC) < 0) return -*__errno_location();
  if (pipe2(to_parent, O_CLOEXEC) < 0 || pipe2(to_child, O_CLOEXEC) < 0) return -*__errno_location();
  launcher_pid = getpid();
  pid = fork();
  if (pid < 0) return -*__errno_location();
  if (pid == 0) {
    close(report_pipe[0]);
    close(to_parent[0]);
    close(to_child[1]);
    report_fd = report_pipe[1];
    reset_signals();
    run_ops(ops, strings, to_child[0], to_parent[1], 0);
    _exit(127);
  }
  close(report_pipe[1]);
  close(to_parent[1]);
  close(to_child[0]);
  out[0] = pid;
  out[1] = report_pipe[0];
  out[2] = -1;
  if (uid_map) {
    if (read(to_parent[0], &c, 1) == 1 && c == 'R') {
      int i, n;
      const char *files[3] = {"uid_map", "setgroups", "gid_map"};
      const char *contents[3] = {uid_map, "deny", gid_map};
      for (i = 0; i < 3; i++) {
        int fd, len = 0;
        const char *p = "/proc/";
        char *q = path;
        while (*p) *q++ = *p++;
        n = pid; { char digits[16]; int d = 0; do { digits[d++] = '0' + n % 10; n /= 10; } while (n); while (d) *q++ = digits[--d]; }
        *q++ = '/';
        p = files[i];
        while (*p) *q++ = *p++;
        *q = 0;
        while (contents[i][len]) len++;
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, contents[i], len) != len) { kill(pid, 9); close(to_child[1]); close(to_parent[0]); return 0; }
        close(fd);
      }
      c = 'G';
      write(to_child[1], &c, 1);
    }
  }
  close(to_child[1]);
  close(to_parent[0]);
  /* The first record: the builder's pid, or an early failure (left in the pipe for the caller). */
  if (read(report_pipe[0], rec, 8) == 8) {
    if (rec[0] == -2) out[2] = rec[1];
    else { out[2] = -1; out[3] = rec[0]; out[4] = rec[1]; }
  }
  return 0;
}

/* A pseudo-terminal in raw mode: out[0] = master, out[1] = slave. Returns 0 or -errno. */
int bunix_open_pty(int *out) {
  unsigned char termios[128];
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave;
  char *name;
  if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) return -*__errno_location();
  name = ptsname(master);
  if (!name) return -*__errno_location();
  slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return -*__errno_location();
  if (tcgetattr(slave, termios) < 0) return -*__errno_location();
  cfmakeraw(termios);
  if (tcsetattr(slave, 0 /* TCSANOW */, termios) < 0) return -*__errno_location();
  out[0] = master;
  out[1] = slave;
  return 0;
}

/* Kills every process of `uid` (a build user), from a child that becomes that user. */
int bunix_kill_user(unsigned int uid) {
  int pid = fork(), status;
  if (pid < 0) return -*__errno_location();
  if (pid == 0) {
    if (setuid(uid) < 0) _exit(1);
    kill(-1, 9);
    _exit(0);
  }
  while (waitpid(pid, &status, 0) < 0) if (*__errno_location() != 4) return -*__errno_location();
  return 0;
}
