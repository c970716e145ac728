// boxes-sandbox: the one native piece of a Boxes sandbox.
//
//   boxes-sandbox launch [--cgroup PROCS_FILE]... [--uid N --gid N] [--seccomp] -- BWRAP [ARGS...]
//     Runs on the host as root. Joins the sandbox's cgroups (so everything the sandbox ever starts is
//     counted from the first instruction), builds the seccomp filter, drops to the sandbox's own
//     unprivileged host uid and execs bubblewrap, which unshares every namespace and finally execs the
//     agent below inside the sandbox. (bubblewrap resolves what it binds as that uid, so the worker keeps
//     those files in a folder every uid can reach: SandboxHost's runtime folder.)
//
//   boxes-sandbox agent
//     The long-lived process inside the sandbox. It speaks a small binary protocol on stdin/stdout with
//     the worker and does what the worker asks: spawn commands (with pipes or a pty), stream their output,
//     kill them at their deadline, and read, write and list files under /workspace. One agent per sandbox
//     means an exec costs one fork+exec instead of a whole bubblewrap start.
//
// Frames, both directions: u32 length (of what follows), u8 type, u32 request id, payload. Integers are
// little-endian; a string is u32 length + bytes. The worker side is SandboxAgent.cs; keep them in step.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

// ---- protocol -------------------------------------------------------------------------------------

enum {
    REQ_EXEC = 1, REQ_STDIN = 2, REQ_STDIN_EOF = 3, REQ_RESIZE = 4, REQ_SIGNAL = 5,
    REQ_FS_READ = 6, REQ_FS_WRITE = 7, REQ_FS_LIST = 8, REQ_PING = 9,
};
enum {
    RES_STARTED = 101, RES_OUT = 102, RES_EXIT = 103, RES_ERROR = 104, RES_OK = 105,
    RES_DATA = 106, RES_LIST = 107, RES_PONG = 108, RES_ACK = 109,
};
// Error codes of RES_ERROR: the worker maps them to HTTP answers.
enum {
    E_INVALID = 1,      // malformed request or path outside /workspace
    E_NOT_FOUND = 2,
    E_TOO_LARGE = 3,
    E_NOT_REGULAR = 4,  // a folder, FIFO, socket or device where a file was expected
    E_SYMLINK = 5,      // the path goes through a symlink
    E_HARDLINK = 6,     // a file with more than one link
    E_IO = 7,
    E_SPAWN = 8,        // the command could not be started
    E_NOT_DIR = 9,
    E_LIMIT = 10,       // too many processes for the agent
    E_NO_SPACE = 11,    // the workspace quota is used up
};

#define EXEC_PTY 1u
#define MAX_FRAME (80u * 1024u * 1024u)
#define MAX_PROCS 256
#define READ_CHUNK 65536

static void die(const char *what) {
    fprintf(stderr, "boxes-sandbox: %s: %s\n", what, strerror(errno));
    _exit(125);
}

// ---- output (to the worker) ------------------------------------------------------------------------

static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd w = {.fd = fd, .events = POLLOUT};
                poll(&w, 1, -1);
                continue;
            }
            _exit(0); // the worker is gone: so is the sandbox
        }
        p += n;
        len -= (size_t)n;
    }
}

typedef struct { char *data; size_t len, cap; } buf_t;

static void buf_reserve(buf_t *b, size_t more) {
    if (b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) die("out of memory");
    b->data = d;
    b->cap = cap;
}
static void buf_put(buf_t *b, const void *p, size_t n) { buf_reserve(b, n); memcpy(b->data + b->len, p, n); b->len += n; }
static void buf_u8(buf_t *b, uint8_t v) { buf_put(b, &v, 1); }
static void buf_u32(buf_t *b, uint32_t v) { buf_put(b, &v, 4); }
static void buf_u64(buf_t *b, uint64_t v) { buf_put(b, &v, 8); }
static void buf_str(buf_t *b, const char *s, size_t n) { buf_u32(b, (uint32_t)n); buf_put(b, s, n); }

// A frame is built in a buffer that starts with 9 bytes of header room.
static void frame_begin(buf_t *b, uint8_t type, uint32_t id) {
    b->len = 0;
    buf_u32(b, 0);
    buf_u8(b, type);
    buf_u32(b, id);
}
static void frame_send(buf_t *b) {
    uint32_t len = (uint32_t)(b->len - 4);
    memcpy(b->data, &len, 4);
    write_all(1, b->data, b->len);
}

static buf_t out;

static void send_error(uint32_t id, uint32_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void send_error(uint32_t id, uint32_t code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
    frame_begin(&out, RES_ERROR, id);
    buf_u32(&out, code);
    buf_str(&out, msg, (size_t)n);
    frame_send(&out);
}

static void send_ok(uint32_t id, uint64_t value) {
    frame_begin(&out, RES_OK, id);
    buf_u64(&out, value);
    frame_send(&out);
}

// ---- input parsing -----------------------------------------------------------------------------------

typedef struct { const char *p; size_t left; int bad; } reader_t;

static uint32_t rd_u32(reader_t *r) {
    uint32_t v = 0;
    if (r->left < 4) { r->bad = 1; return 0; }
    memcpy(&v, r->p, 4);
    r->p += 4; r->left -= 4;
    return v;
}
static uint64_t rd_u64(reader_t *r) {
    uint64_t v = 0;
    if (r->left < 8) { r->bad = 1; return 0; }
    memcpy(&v, r->p, 8);
    r->p += 8; r->left -= 8;
    return v;
}
// Returns a NUL-terminated copy (strings from the worker never contain NUL; one that does is refused).
static char *rd_str(reader_t *r, size_t *len_out) {
    uint32_t n = rd_u32(r);
    if (r->bad || r->left < n) { r->bad = 1; return NULL; }
    if (memchr(r->p, 0, n)) { r->bad = 1; return NULL; }
    char *s = malloc((size_t)n + 1);
    if (!s) die("out of memory");
    memcpy(s, r->p, n);
    s[n] = 0;
    r->p += n; r->left -= n;
    if (len_out) *len_out = n;
    return s;
}

// ---- processes -----------------------------------------------------------------------------------------

typedef struct {
    int used;
    uint32_t id;
    pid_t pid;
    int in_fd;          // our end of the child's stdin (the pty master for a terminal), -1 once closed
    int out_fd, err_fd; // our ends of stdout/stderr (out_fd is the pty master for a terminal), -1 at EOF
    int pty;
    int exited, status;
    int timed_out;
    buf_t pending_in;     // stdin the child has not taken yet (written as the pipe accepts it)
    size_t pending_off;
    int eof_requested;    // close stdin once pending_in is written
    struct timespec started;
    uint64_t deadline_ms; // 0: none
} proc_t;

static proc_t procs[MAX_PROCS];

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static proc_t *find_proc(uint32_t id) {
    for (int i = 0; i < MAX_PROCS; i++)
        if (procs[i].used && procs[i].id == id) return &procs[i];
    return NULL;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

// Sends what is in the pipe right now; on EOF or error closes our end. Returns 0 when the fd is done.
static int pump_output(proc_t *p, int *fd, uint8_t stream) {
    static char chunk[READ_CHUNK];
    for (;;) {
        ssize_t n = read(*fd, chunk, sizeof chunk);
        if (n > 0) {
            frame_begin(&out, RES_OUT, p->id);
            buf_u8(&out, stream);
            buf_put(&out, chunk, (size_t)n);
            frame_send(&out);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 1;
        // EOF, or EIO from a pty master whose every slave has closed.
        if (p->pty && *fd == p->in_fd) p->in_fd = -1; // the master is shared by both directions
        close_fd(fd);
        return 0;
    }
}

static void free_pending(proc_t *p) {
    free(p->pending_in.data);
    p->pending_in = (buf_t){0};
    p->pending_off = 0;
}

static void close_stdin(proc_t *p) {
    if (p->in_fd < 0) return;
    if (p->pty) {
        char eot = 4; // Ctrl-D: a terminal's end of input (the master stays open for output)
        (void)!write(p->in_fd, &eot, 1);
        return;
    }
    close_fd(&p->in_fd);
}

// Writes what the pipe takes now and acknowledges it, so the worker can send more (flow control: the
// worker keeps a bounded amount unacknowledged). Never blocks: a child that does not read its input
// while its output fills up must not stall the agent.
static void flush_stdin(proc_t *p) {
    size_t written = 0;
    while (p->in_fd >= 0 && p->pending_off < p->pending_in.len) {
        ssize_t n = write(p->in_fd, p->pending_in.data + p->pending_off, p->pending_in.len - p->pending_off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n < 0) { // EPIPE: the child stopped reading; what is left is dropped (and acknowledged)
            written += p->pending_in.len - p->pending_off;
            p->pending_off = p->pending_in.len;
            if (!p->pty) close_fd(&p->in_fd);
            break;
        }
        p->pending_off += (size_t)n;
        written += (size_t)n;
    }
    if (p->pending_off == p->pending_in.len) {
        free_pending(p);
        if (p->eof_requested) { close_stdin(p); p->eof_requested = 0; }
    }
    if (written > 0) {
        frame_begin(&out, RES_ACK, p->id);
        buf_u64(&out, written);
        frame_send(&out);
    }
}

static void finish_proc(proc_t *p) {
    // Everything the process itself wrote is already in the pipe: send it before the exit, so that the
    // worker never sees EXIT ahead of output. A background child that keeps the pipe open does not hold
    // the exit back (the exec is over when its process is).
    if (p->out_fd >= 0) pump_output(p, &p->out_fd, 1);
    if (p->err_fd >= 0) pump_output(p, &p->err_fd, 2);
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    uint64_t micros = (uint64_t)(end.tv_sec - p->started.tv_sec) * 1000000u +
                      (uint64_t)((end.tv_nsec - p->started.tv_nsec) / 1000);
    frame_begin(&out, RES_EXIT, p->id);
    if (WIFSIGNALED(p->status)) {
        buf_u8(&out, 1);
        buf_u32(&out, (uint32_t)WTERMSIG(p->status));
    } else {
        buf_u8(&out, 0);
        buf_u32(&out, (uint32_t)WEXITSTATUS(p->status));
    }
    buf_u8(&out, (uint8_t)p->timed_out);
    buf_u64(&out, micros);
    frame_send(&out);
    if (p->pty && p->out_fd == p->in_fd) p->in_fd = -1;
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
    close_fd(&p->in_fd);
    free_pending(p);
    // A background child it started keeps running (a server started with "&" is a normal thing to do in a
    // sandbox); a timed-out command's whole group was killed already.
    memset(p, 0, sizeof *p);
    p->in_fd = p->out_fd = p->err_fd = -1;
}

static sigset_t blocked_signals;

// Kills a command's whole process group, again and again until it is empty: one signal to a group that is
// forking (a fork bomb) can miss the children born while it is delivered. The leader is our child and stays
// a zombie (still a member) until reaped, so reap it here and keep its status for the exit report.
static void kill_group(proc_t *p) {
    for (int round = 0; round < 500; round++) {
        if (kill(-p->pid, SIGKILL) < 0 && errno == ESRCH) return;
        if (!p->exited) {
            int st;
            if (waitpid(p->pid, &st, WNOHANG) == p->pid) { p->exited = 1; p->status = st; }
        }
        struct timespec pause = {0, 1000000}; // 1 ms
        nanosleep(&pause, NULL);
    }
}

static void handle_exec(uint32_t id, reader_t *r) {
    uint32_t flags = rd_u32(r);
    uint32_t timeout = rd_u32(r);
    uint32_t cols = rd_u32(r), rows = rd_u32(r);
    uint32_t argc = rd_u32(r);
    if (r->bad || argc == 0 || argc > 4096) { send_error(id, E_INVALID, "exec: malformed request"); return; }
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    for (uint32_t i = 0; i < argc && !r->bad; i++) argv[i] = rd_str(r, NULL);
    uint32_t envc = rd_u32(r);
    char **envp = NULL;
    if (!r->bad && envc <= 4096) {
        envp = calloc((size_t)envc + 1, sizeof *envp);
        for (uint32_t i = 0; i < envc && !r->bad; i++) envp[i] = rd_str(r, NULL);
    } else {
        r->bad = 1;
    }
    char *cwd = r->bad ? NULL : rd_str(r, NULL);
    proc_t *slot = NULL;
    for (int i = 0; i < MAX_PROCS && !slot; i++)
        if (!procs[i].used) slot = &procs[i];

    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, status_pipe[2] = {-1, -1};
    int master = -1;
    char slave_name[128] = {0};
    if (r->bad) { send_error(id, E_INVALID, "exec: malformed request"); goto done; }
    if (find_proc(id)) { send_error(id, E_INVALID, "exec: request id %u is in use", id); goto done; }
    if (!slot) { send_error(id, E_LIMIT, "exec: %d commands already run in this sandbox", MAX_PROCS); goto done; }

    if (flags & EXEC_PTY) {
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, slave_name, sizeof slave_name) != 0) {
            send_error(id, E_SPAWN, "terminal: no pty available: %s", strerror(errno));
            goto done;
        }
        struct winsize ws = {.ws_row = (unsigned short)(rows ? rows : 24), .ws_col = (unsigned short)(cols ? cols : 80)};
        ioctl(master, TIOCSWINSZ, &ws);
    } else if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
        send_error(id, E_SPAWN, "exec: %s", strerror(errno));
        goto done;
    }
    if (pipe2(status_pipe, O_CLOEXEC) < 0) { send_error(id, E_SPAWN, "exec: %s", strerror(errno)); goto done; }

    pid_t pid = fork();
    if (pid < 0) { send_error(id, E_SPAWN, "exec: fork: %s", strerror(errno)); goto done; }
    if (pid == 0) {
        // Child: its own session and process group (so a timeout kills the whole group), default
        // signal handling, only its three standard fds.
        setsid();
        sigprocmask(SIG_UNBLOCK, &blocked_signals, NULL);
        // Every signal back to its default: ignored dispositions survive exec, and the worker may have been
        // started with SIGINT ignored (a shell's background job), which would make Ctrl-C do nothing.
        for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
        int stage = 0; // 0: chdir failed, 1: exec failed
        if (flags & EXEC_PTY) {
            int slave = open(slave_name, O_RDWR);
            if (slave < 0) { stage = 1; goto child_fail; }
            ioctl(slave, TIOCSCTTY, 0);
            dup2(slave, 0); dup2(slave, 1); dup2(slave, 2);
            if (slave > 2) close(slave);
        } else {
            dup2(in_pipe[0], 0); dup2(out_pipe[1], 1); dup2(err_pipe[1], 2);
        }
        if (cwd[0] && chdir(cwd) < 0) goto child_fail;
        stage = 1;
        extern char **environ;
        environ = envp; // execvp searches this environment's PATH
        execvp(argv[0], argv);
    child_fail:;
        int err[2] = {stage, errno};
        write_all(status_pipe[1], err, sizeof err);
        _exit(127);
    }

    // Parent: the status pipe reads EOF on a successful exec (it is close-on-exec), or the child's errno.
    close(status_pipe[1]);
    status_pipe[1] = -1;
    int err[2];
    ssize_t got;
    do got = read(status_pipe[0], err, sizeof err); while (got < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof err) {
        int st;
        waitpid(pid, &st, 0);
        if (err[0] == 0) send_error(id, E_NOT_DIR, "cwd: cannot change directory to %s: %s", cwd, strerror(err[1]));
        else send_error(id, E_SPAWN, "cannot run %s: %s", argv[0], strerror(err[1]));
        goto done;
    }

    memset(slot, 0, sizeof *slot);
    slot->used = 1;
    slot->id = id;
    slot->pid = pid;
    slot->pty = (flags & EXEC_PTY) != 0;
    clock_gettime(CLOCK_MONOTONIC, &slot->started);
    slot->deadline_ms = timeout ? now_ms() + timeout : 0;
    if (slot->pty) {
        set_nonblock(master);
        slot->in_fd = slot->out_fd = master;
        slot->err_fd = -1;
        master = -1;
    } else {
        close(in_pipe[0]); close(out_pipe[1]); close(err_pipe[1]);
        in_pipe[0] = out_pipe[1] = err_pipe[1] = -1;
        slot->in_fd = in_pipe[1];
        slot->out_fd = out_pipe[0];
        slot->err_fd = err_pipe[0];
        in_pipe[1] = out_pipe[0] = err_pipe[0] = -1;
        set_nonblock(slot->in_fd);
        set_nonblock(slot->out_fd);
        set_nonblock(slot->err_fd);
    }
    frame_begin(&out, RES_STARTED, id);
    buf_u32(&out, (uint32_t)pid);
    frame_send(&out);

done:
    for (int i = 0; i < 2; i++) {
        if (in_pipe[i] >= 0) close(in_pipe[i]);
        if (out_pipe[i] >= 0) close(out_pipe[i]);
        if (err_pipe[i] >= 0) close(err_pipe[i]);
        if (status_pipe[i] >= 0) close(status_pipe[i]);
    }
    if (master >= 0) close(master);
    if (argv) { for (uint32_t i = 0; i < argc; i++) free(argv[i]); free(argv); }
    if (envp) { for (uint32_t i = 0; i < envc; i++) free(envp[i]); free(envp); }
    free(cwd);
}

static void handle_stdin(uint32_t id, reader_t *r) {
    proc_t *p = find_proc(id);
    if (!p || p->in_fd < 0) { // the process is gone or closed its input: drop it, but acknowledge it
        frame_begin(&out, RES_ACK, id);
        buf_u64(&out, r->left);
        frame_send(&out);
        return;
    }
    buf_put(&p->pending_in, r->p, r->left);
    flush_stdin(p);
}

static void handle_stdin_eof(uint32_t id) {
    proc_t *p = find_proc(id);
    if (!p || p->in_fd < 0) return;
    if (p->pending_off < p->pending_in.len) { p->eof_requested = 1; return; }
    close_stdin(p);
}

static void handle_resize(uint32_t id, reader_t *r) {
    uint32_t cols = rd_u32(r), rows = rd_u32(r);
    proc_t *p = find_proc(id);
    if (r->bad || !p || !p->pty || p->out_fd < 0) return;
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    ioctl(p->out_fd, TIOCSWINSZ, &ws);
}

static void handle_signal(uint32_t id, reader_t *r) {
    uint32_t sig = rd_u32(r);
    proc_t *p = find_proc(id);
    if (r->bad || !p || sig == 0 || sig > 64) return;
    kill(-p->pid, (int)sig);
}

// ---- files under /workspace ------------------------------------------------------------------------------

static int workspace_fd = -1;

// Every lookup goes through openat2 beneath /workspace with no symlink of any kind followed, so ".." cannot
// climb out, an absolute symlink cannot point out, and a symlink swapped in during the call is refused
// rather than followed: the kernel resolves the whole path in one step.
#define RESOLVE_STRICT (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

static int open_beneath(int dirfd, const char *rel, int flags, mode_t mode) {
    struct open_how how = {.flags = (uint64_t)flags, .mode = (flags & O_CREAT) ? mode : 0, .resolve = RESOLVE_STRICT};
    return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
}

// The path as the client gave it ("/workspace/a/b", "a/b", "/workspace") → a normalised relative path
// ("a/b", "."), or NULL when it is outside /workspace. Lexical normalisation is sound here because no
// symlink is ever followed; openat2 enforces the same again.
static char *workspace_relative(const char *path) {
    const char *p = path;
    if (p[0] == '/') {
        if (strncmp(p, "/workspace", 10) != 0 || (p[10] != '/' && p[10] != 0)) return NULL;
        p += 10;
    }
    size_t n = strlen(p);
    char *result = malloc(n + 2);
    if (!result) die("out of memory");
    size_t len = 0;
    const char *seg = p;
    while (*seg) {
        while (*seg == '/') seg++;
        if (!*seg) break;
        const char *end = strchr(seg, '/');
        size_t sl = end ? (size_t)(end - seg) : strlen(seg);
        if (sl == 1 && seg[0] == '.') {
            // nothing
        } else if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            if (len == 0) { free(result); return NULL; } // climbs above /workspace
            while (len > 0 && result[len - 1] != '/') len--;
            if (len > 0) len--; // the separator
        } else {
            if (len > 0) result[len++] = '/';
            memcpy(result + len, seg, sl);
            len += sl;
        }
        seg += sl;
    }
    if (len == 0) result[len++] = '.';
    result[len] = 0;
    return result;
}

static void send_path_error(uint32_t id, const char *path, int err) {
    switch (err) {
    case ENOENT: send_error(id, E_NOT_FOUND, "%s does not exist", path); break;
    case EXDEV: send_error(id, E_INVALID, "%s is outside /workspace", path); break;
    case ELOOP: send_error(id, E_SYMLINK, "%s goes through a symlink; symlinks are not followed", path); break;
    case ENOTDIR: send_error(id, E_NOT_DIR, "a part of %s is not a folder", path); break;
    case EISDIR: send_error(id, E_NOT_REGULAR, "%s is a folder", path); break;
    case ENXIO: send_error(id, E_NOT_REGULAR, "%s is not a regular file", path); break;
    case ENOSPC: case EDQUOT: send_error(id, E_NO_SPACE, "the workspace is full (%s)", strerror(err)); break;
    case ENAMETOOLONG: send_error(id, E_INVALID, "%s: name too long", path); break;
    default: send_error(id, E_IO, "%s: %s", path, strerror(err)); break;
    }
}

// A regular file with one link, or an error sent for what it is instead.
static int check_regular(uint32_t id, const char *path, int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) { send_path_error(id, path, errno); return 0; }
    if (S_ISDIR(st.st_mode)) { send_error(id, E_NOT_REGULAR, "%s is a folder", path); return 0; }
    if (!S_ISREG(st.st_mode)) { send_error(id, E_NOT_REGULAR, "%s is not a regular file (a FIFO, socket or device)", path); return 0; }
    if (st.st_nlink > 1) { send_error(id, E_HARDLINK, "%s has %lu hard links; hard-linked files are refused", path, (unsigned long)st.st_nlink); return 0; }
    return 1;
}

static void handle_fs_read(uint32_t id, reader_t *r) {
    char *path = rd_str(r, NULL);
    uint64_t max = rd_u64(r);
    char *rel = NULL;
    int fd = -1;
    if (r->bad || !path) { send_error(id, E_INVALID, "read: malformed request"); goto done; }
    rel = workspace_relative(path);
    if (!rel) { send_error(id, E_INVALID, "%s is outside /workspace", path); goto done; }
    fd = open_beneath(workspace_fd, rel, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0);
    if (fd < 0) { send_path_error(id, path, errno); goto done; }
    if (!check_regular(id, path, fd)) goto done;
    frame_begin(&out, RES_DATA, id);
    for (;;) {
        buf_reserve(&out, READ_CHUNK);
        ssize_t n = read(fd, out.data + out.len, READ_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { send_path_error(id, path, errno); goto done; }
        if (n == 0) break;
        out.len += (size_t)n;
        if (out.len - 9 > max) { send_error(id, E_TOO_LARGE, "%s is larger than %llu bytes", path, (unsigned long long)max); goto done; }
    }
    frame_send(&out);
done:
    if (fd >= 0) close(fd);
    free(rel);
    free(path);
}

// Creates the folders of rel's parent (like mkdir -p), each checked beneath /workspace. Returns an fd of
// the parent folder and points *name at the last component, or -1 with errno set.
static int make_parents(char *rel, const char **name) {
    int dir = dup(workspace_fd);
    char *seg = rel;
    for (;;) {
        char *slash = strchr(seg, '/');
        if (!slash) break;
        *slash = 0;
        if (mkdirat(dir, seg, 0755) < 0 && errno != EEXIST) { int e = errno; *slash = '/'; close(dir); errno = e; return -1; }
        int next = open_beneath(dir, seg, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        int e = errno;
        *slash = '/';
        close(dir);
        if (next < 0) { errno = e; return -1; }
        dir = next;
        seg = slash + 1;
    }
    *name = seg;
    return dir;
}

static void handle_fs_write(uint32_t id, reader_t *r) {
    char *path = rd_str(r, NULL);
    uint32_t mode = rd_u32(r);
    char *rel = NULL;
    int dir = -1, fd = -1;
    if (r->bad || !path) { send_error(id, E_INVALID, "write: malformed request"); goto done; }
    rel = workspace_relative(path);
    if (!rel) { send_error(id, E_INVALID, "%s is outside /workspace", path); goto done; }
    if (strcmp(rel, ".") == 0) { send_error(id, E_NOT_REGULAR, "%s is a folder", path); goto done; }
    const char *name;
    dir = make_parents(rel, &name);
    if (dir < 0) { send_path_error(id, path, errno); goto done; }
    // No O_TRUNC yet: a hard-linked or special file must be refused before anything changes.
    fd = open_beneath(dir, name, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, (mode_t)(mode & 0777));
    if (fd < 0) { send_path_error(id, path, errno); goto done; }
    if (!check_regular(id, path, fd)) goto done;
    if (ftruncate(fd, 0) < 0) { send_path_error(id, path, errno); goto done; }
    const char *d = r->p;
    size_t left = r->left;
    while (left > 0) {
        ssize_t n = write(fd, d, left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { int e = errno; (void)!ftruncate(fd, 0); send_path_error(id, path, e); goto done; }
        d += n;
        left -= (size_t)n;
    }
    send_ok(id, r->left);
done:
    if (fd >= 0) close(fd);
    if (dir >= 0) close(dir);
    free(rel);
    free(path);
}

static void handle_fs_list(uint32_t id, reader_t *r) {
    char *path = rd_str(r, NULL);
    char *rel = NULL;
    int fd = -1;
    DIR *d = NULL;
    if (r->bad || !path) { send_error(id, E_INVALID, "list: malformed request"); goto done; }
    rel = workspace_relative(path);
    if (!rel) { send_error(id, E_INVALID, "%s is outside /workspace", path); goto done; }
    fd = open_beneath(workspace_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) { send_path_error(id, path, errno); goto done; }
    d = fdopendir(fd);
    if (!d) { send_path_error(id, path, errno); goto done; }
    fd = -1; // owned by d now
    frame_begin(&out, RES_LIST, id);
    size_t count_at = out.len;
    buf_u32(&out, 0);
    uint32_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && count < 100000) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue; // gone meanwhile
        uint8_t type = S_ISREG(st.st_mode) ? 0 : S_ISDIR(st.st_mode) ? 1 : S_ISLNK(st.st_mode) ? 2 : 3;
        buf_str(&out, e->d_name, strlen(e->d_name));
        buf_u8(&out, type);
        buf_u64(&out, (uint64_t)st.st_size);
        buf_u64(&out, (uint64_t)st.st_mtim.tv_sec * 1000u + (uint64_t)st.st_mtim.tv_nsec / 1000000u);
        count++;
    }
    memcpy(out.data + count_at, &count, 4);
    frame_send(&out);
done:
    if (d) closedir(d);
    if (fd >= 0) close(fd);
    free(rel);
    free(path);
}

// ---- the agent's loop ---------------------------------------------------------------------------------------

static void dispatch(uint8_t type, uint32_t id, const char *payload, size_t len) {
    reader_t r = {payload, len, 0};
    switch (type) {
    case REQ_EXEC: handle_exec(id, &r); break;
    case REQ_STDIN: handle_stdin(id, &r); break;
    case REQ_STDIN_EOF: handle_stdin_eof(id); break;
    case REQ_RESIZE: handle_resize(id, &r); break;
    case REQ_SIGNAL: handle_signal(id, &r); break;
    case REQ_FS_READ: handle_fs_read(id, &r); break;
    case REQ_FS_WRITE: handle_fs_write(id, &r); break;
    case REQ_FS_LIST: handle_fs_list(id, &r); break;
    case REQ_PING: frame_begin(&out, RES_PONG, id); frame_send(&out); break;
    default: send_error(id, E_INVALID, "unknown request type %u", type); break;
    }
}

static void reap_children(void) {
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) return;
        for (int i = 0; i < MAX_PROCS; i++) {
            if (procs[i].used && procs[i].pid == pid) {
                procs[i].exited = 1;
                procs[i].status = st;
                break;
            }
        }
    }
}

static int run_agent(void) {
    // Not dumpable: commands run as the same uid, and must not reach into the agent through /proc/<pid>/fd
    // (its pipes to the worker) or /proc/<pid>/mem. The commands it starts are dumpable again after exec.
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) die("dumpable");
    workspace_fd = open("/workspace", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (workspace_fd < 0) die("open /workspace");
    for (int i = 0; i < MAX_PROCS; i++) procs[i].in_fd = procs[i].out_fd = procs[i].err_fd = -1;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&blocked_signals);
    sigaddset(&blocked_signals, SIGCHLD);
    sigprocmask(SIG_BLOCK, &blocked_signals, NULL);
    int sfd = signalfd(-1, &blocked_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) die("signalfd");
    set_nonblock(0);

    buf_t in = {0};
    // Per process up to three entries: output, errors, and its input while some is pending.
    struct pollfd fds[2 + 3 * MAX_PROCS];
    proc_t *owner[2 + 3 * MAX_PROCS];
    int role[2 + 3 * MAX_PROCS]; // 1 stdout, 2 stderr, 0 stdin
    int stdin_open = 1;

    for (;;) {
        int n = 0;
        fds[n++] = (struct pollfd){.fd = stdin_open ? 0 : -1, .events = POLLIN};
        fds[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        uint64_t now = now_ms(), next_deadline = 0;
        for (int i = 0; i < MAX_PROCS; i++) {
            proc_t *p = &procs[i];
            if (!p->used) continue;
            if (p->deadline_ms && !p->timed_out) {
                if (p->deadline_ms <= now) {
                    p->timed_out = 1;
                    kill_group(p);
                } else if (!next_deadline || p->deadline_ms < next_deadline) {
                    next_deadline = p->deadline_ms;
                }
            }
            if (p->out_fd >= 0) { owner[n] = p; role[n] = 1; fds[n++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN}; }
            if (p->err_fd >= 0) { owner[n] = p; role[n] = 2; fds[n++] = (struct pollfd){.fd = p->err_fd, .events = POLLIN}; }
            if (p->in_fd >= 0 && p->pending_off < p->pending_in.len) {
                owner[n] = p; role[n] = 0; fds[n++] = (struct pollfd){.fd = p->in_fd, .events = POLLOUT};
            }
        }
        int timeout = next_deadline ? (int)(next_deadline - now) : -1;
        if (!stdin_open) {
            // The worker closed our input: it is going away. End everything here.
            for (int i = 0; i < MAX_PROCS; i++) if (procs[i].used) kill(-procs[i].pid, SIGKILL);
            return 0;
        }
        int ready = poll(fds, (nfds_t)n, timeout);
        if (ready < 0 && errno != EINTR) die("poll");
        if (ready <= 0) continue;

        for (int i = 2; i < n; i++) {
            if (!fds[i].revents) continue;
            proc_t *p = owner[i];
            if (!p->used) continue;
            if (role[i] == 0) {
                if (p->in_fd == fds[i].fd) flush_stdin(p);
                continue;
            }
            int *fd = role[i] == 2 ? &p->err_fd : &p->out_fd;
            if (*fd == fds[i].fd) pump_output(p, fd, (uint8_t)role[i]);
        }
        if (fds[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {}
            reap_children();
        }
        for (int i = 0; i < MAX_PROCS; i++)
            if (procs[i].used && procs[i].exited) finish_proc(&procs[i]);

        if (fds[0].revents) {
            for (;;) {
                buf_reserve(&in, READ_CHUNK);
                ssize_t got = read(0, in.data + in.len, in.cap - in.len);
                if (got > 0) { in.len += (size_t)got; continue; }
                if (got < 0 && errno == EINTR) continue;
                if (got == 0) stdin_open = 0;
                break;
            }
            size_t at = 0;
            while (in.len - at >= 4) {
                uint32_t len;
                memcpy(&len, in.data + at, 4);
                if (len < 5 || len > MAX_FRAME) { fprintf(stderr, "boxes-sandbox: bad frame length %u\n", len); return 2; }
                if (in.len - at - 4 < len) { buf_reserve(&in, len + 4); break; }
                uint8_t type = (uint8_t)in.data[at + 4];
                uint32_t id;
                memcpy(&id, in.data + at + 5, 4);
                dispatch(type, id, in.data + at + 9, len - 5);
                at += 4 + len;
            }
            memmove(in.data, in.data + at, in.len - at);
            in.len -= at;
        }
    }
}

// ---- launch (host side, root) --------------------------------------------------------------------------------

// Errno for refused calls, and whether a call is refused outright.
#define DENY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

// Namespace flags of clone(2): a sandbox may not make namespaces of its own (bubblewrap's --disable-userns
// covers user namespaces; this covers the rest and unshare/setns).
#define CLONE_NS_FLAGS 0x7E020000u

static int seccomp_fd(void) {
#if !defined(__x86_64__)
#error "the seccomp filter is written for x86_64"
#endif
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS), // i386 or x32 entry points: not ours
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        // clone3 hides its flags in memory the filter cannot read: ENOSYS makes libc fall back to clone.
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NS_FLAGS, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        // ioctl: no pushing keys into another terminal's input.
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 5),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        // Kernel surfaces a sandbox has no business with: keyrings, tracing other processes, mounts and
        // namespaces, modules, kexec, clocks, BPF, perf, userfaultfd, io_uring, file handles.
        DENY(__NR_ptrace), DENY(__NR_process_vm_readv), DENY(__NR_process_vm_writev), DENY(__NR_kcmp),
        DENY(__NR_pidfd_getfd), DENY(__NR_keyctl), DENY(__NR_add_key), DENY(__NR_request_key),
        DENY(__NR_mount), DENY(__NR_umount2), DENY(__NR_pivot_root), DENY(__NR_chroot), DENY(__NR_unshare), DENY(__NR_setns),
        DENY(__NR_open_tree), DENY(__NR_move_mount), DENY(__NR_fsopen), DENY(__NR_fsconfig), DENY(__NR_fsmount),
        DENY(__NR_fspick), DENY(__NR_mount_setattr), DENY(__NR_swapon), DENY(__NR_swapoff), DENY(__NR_reboot),
        DENY(__NR_sethostname), DENY(__NR_setdomainname), DENY(__NR_init_module), DENY(__NR_finit_module),
        DENY(__NR_delete_module), DENY(__NR_kexec_load), DENY(__NR_kexec_file_load), DENY(__NR_acct),
        DENY(__NR_settimeofday), DENY(__NR_clock_settime), DENY(__NR_clock_adjtime), DENY(__NR_adjtimex),
        DENY(__NR_iopl), DENY(__NR_ioperm), DENY(__NR_quotactl), DENY(__NR_quotactl_fd), DENY(__NR_lookup_dcookie),
        DENY(__NR_perf_event_open), DENY(__NR_bpf), DENY(__NR_userfaultfd), DENY(__NR_open_by_handle_at),
        DENY(__NR_name_to_handle_at), DENY(__NR_io_uring_setup), DENY(__NR_io_uring_enter),
        DENY(__NR_io_uring_register), DENY(__NR_vhangup), DENY(__NR_syslog), DENY(__NR_fanotify_init),
        DENY(__NR_personality), DENY(__NR_uselib), DENY(__NR_ustat), DENY(__NR_sysfs), DENY(__NR__sysctl),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    int fd = memfd_create("boxes-seccomp", 0);
    if (fd < 0) die("memfd_create");
    write_all(fd, filter, sizeof filter);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) die(path);
    if (write(fd, text, strlen(text)) < 0) die(path);
    close(fd);
}

static int run_launch(int argc, char **argv) {
    // Extra bwrap arguments the launcher adds (fds it opened), then the given bwrap command line.
    char **extra = calloc((size_t)argc * 2 + 8, sizeof *extra);
    int nextra = 0;
    long uid = -1, gid = -1;
    int use_seccomp = 0, i = 1;
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "%d", getpid());
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { i++; break; }
        if (strcmp(argv[i], "--cgroup") == 0 && i + 1 < argc) {
            write_file(argv[++i], pid_text);
        } else if (strcmp(argv[i], "--uid") == 0 && i + 1 < argc) {
            uid = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--gid") == 0 && i + 1 < argc) {
            gid = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seccomp") == 0) {
            use_seccomp = 1;
        } else {
            fprintf(stderr, "boxes-sandbox launch: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) { fprintf(stderr, "boxes-sandbox launch: no bwrap command after --\n"); return 2; }
    if (use_seccomp) {
        char *num = malloc(16);
        snprintf(num, 16, "%d", seccomp_fd());
        extra[nextra++] = "--seccomp";
        extra[nextra++] = num;
    }
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (gid >= 0) {
        if (setgroups(0, NULL) < 0) die("setgroups");
        if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0) die("setresgid");
    }
    if (uid >= 0 && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) die("setresuid");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
    // No PR_SET_PDEATHSIG here: it fires when the *thread* that forked us exits, and the worker forks from
    // pool threads that come and go. A dead worker closes the agent's stdin instead, and the agent ends the
    // sandbox (bubblewrap's namespace ends with it).

    int bw = argc - i;
    char **args = calloc((size_t)(bw + nextra + 1), sizeof *args);
    args[0] = argv[i];
    for (int k = 0; k < nextra; k++) args[1 + k] = extra[k];
    for (int k = 1; k < bw; k++) args[nextra + k] = argv[i + k];
    execv(args[0], args);
    die(args[0]);
    return 125;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "agent") == 0) return run_agent();
    if (argc >= 2 && strcmp(argv[1], "launch") == 0) return run_launch(argc - 1, argv + 1);
    fprintf(stderr, "usage: boxes-sandbox launch [options] -- bwrap ... | boxes-sandbox agent\n");
    return 2;
}
