/*
 * monitor/monitor.h - the monitor's private interface, shared by the files of this folder:
 * the monitor of one kernel, its sessions (one per connection), the text replies are built
 * in, and the steps of `where` (capture on the task's stack, symbolise on a thread).
 */
#ifndef CURIO_MONITOR_PRIVATE_H
#define CURIO_MONITOR_PRIVATE_H

#include "../kernel/introspect.h"

/* ---- text: a reply being built (text.c) ---- */

/* A growing NUL-terminated string. Zero-initialise. Out of memory, it stops growing and
 * remembers it (failed); what it holds stays valid. */
typedef struct curio__text {
    char *p;
    size_t len, cap;
    bool failed;
} curio__text;

__attribute__((format(printf, 2, 3)))
CURIO__HIDDEN void curio__text_printf(curio__text *t, const char *fmt, ...);
CURIO__HIDDEN void curio__text_put(curio__text *t, const char *s, size_t n);
CURIO__HIDDEN void curio__text_clear(curio__text *t);
CURIO__HIDDEN void curio__text_free(curio__text *t);

/* ---- the monitor of a kernel (server.c) ---- */

struct curio__mon_session;

struct curio__monitor {
    curio_kernel *k;
    curio_addr addr;                     /* where it listens (the chosen port filled in) */
    char where[CURIO_ADDR_STRLEN];       /* addr as text, for messages */
    uint64_t server_id;                  /* the server task's id */
    curio__list sessions;                /* live sessions, newest first (by node) */
    unsigned nsessions;
    bool quiet;                          /* the kernel's quiet option: no messages */
    double idle;                         /* seconds a session may wait for a command line,
                                            or for a reply to go out, before it is closed;
                                            negative: no limit */
};

/* The default of curio_options.monitor_idle_timeout, seconds. */
#define CURIO__MON_IDLE_DEFAULT 300.0

/* At most this many connections are served at once; more are told so and closed. */
#define CURIO__MON_MAX_SESSIONS 16

/* One connection, living on its task's stack (session.c). */
typedef struct curio__mon_session {
    curio__list_node node;               /* in the monitor's list */
    struct curio__monitor *mon;
    curio__task *task;                   /* the session's own task */
    curio_stream *stream;                /* the connection (the socket's stream) */
    curio__text out;                     /* the reply being built */
    bool quit;                           /* close after this reply */
    bool idle;                           /* closed for idling (the idle timeout expired) */
} curio__mon_session;

/* The handler of the monitor's server: serve one connection. */
CURIO__HIDDEN long curio__mon_session_main(curio_socket *client, const curio_addr *peer,
                                           void *arg);

/* Send what out holds (in the middle of a command: without a prompt) and empty it.
 * Returns 0 or the write's error. */
CURIO__HIDDEN int curio__mon_flush(curio__mon_session *s);

/* The monitor's own tasks (the server and the sessions), which ps marks. */
CURIO__HIDDEN bool curio__mon_is_own(const struct curio__monitor *m, uint64_t id);

/* ---- commands (commands.c, tasks.c, where.c) ---- */

/* Run one command line (without its newline) and append the reply to s->out. Returns 0,
 * or a negative error of the session itself (its cancellation: stop serving). */
CURIO__HIDDEN int curio__mon_command(curio__mon_session *s, char *line);

/* Parse a task id argument and look the task up (curio__task_lookup: a live task, or an
 * ended one whose record is still held); on failure, append an error reply and return
 * false. */
CURIO__HIDDEN bool curio__mon_task_arg(curio__mon_session *s, const char *arg,
                                       const char *cmd, curio__task **out);

CURIO__HIDDEN int curio__mon_ps(curio__mon_session *s, char *arg);
CURIO__HIDDEN int curio__mon_parents(curio__mon_session *s, char *arg);
CURIO__HIDDEN int curio__mon_cancel(curio__mon_session *s, char *arg);
CURIO__HIDDEN int curio__mon_where(curio__mon_session *s, char *arg);

/* ---- where: symbolising captured addresses (symbols.c, dwarf.c) ---- */

/* One frame of a stack, most recent first. A return address of the stack gives one
 * frame, or several when the debugging information says calls were inlined there
 * (innermost first). */
typedef struct curio__frame {
    size_t index;           /* which of the captured addresses it came from */
    char *func;             /* malloc'd function name, or NULL if unknown */
    char *file;             /* malloc'd source file, or NULL */
    unsigned line;          /* its line, when file is set */
    const char *module;     /* the executable or library (owned by the frame set), or NULL */
    uintptr_t offset;       /* pc - 1 as an address of that file (its load bias taken off) */
} curio__frame;

typedef struct curio__frames {
    curio__frame *v;
    size_t n, cap;
    char **modules;          /* module paths (malloc'd), shared by the frames */
    size_t nmodules;
    bool failed;             /* out of memory somewhere: frames may be missing or bare */
} curio__frames;

/* Append a frame (taking func and file, which may be NULL). False when out of memory
 * (func and file are then freed and f->failed is set). */
CURIO__HIDDEN bool curio__frames_add(curio__frames *f, size_t index, char *func, char *file,
                                     unsigned line, const char *module, uintptr_t offset);
CURIO__HIDDEN void curio__frames_free(curio__frames *f);

/* Symbolise n return addresses (most recent first) into f: the module and file address of
 * each (dladdr), then, in a build with libdw, its function, file:line and inlined calls
 * from the module's debugging information (or its symbol table), else the function name
 * dladdr gives (exported functions only). Safe from any thread; it may read files, so it
 * belongs on a thread other than a kernel's. */
CURIO__HIDDEN void curio__symbolise(void *const *pcs, size_t n, curio__frames *f);

/* Free what symbolising keeps between calls (the libdw session, otherwise kept until
 * exit); the next call starts again. */
CURIO__HIDDEN void curio__symbolise_release(void);

/* The libdw session (dwarf.c), one per process: curio__dwarf_take locks it, makes it on
 * first use and reports the loaded files again if they have changed; NULL without libdw
 * or when it cannot be made (*failed is set when memory was lacking, for it or for the
 * report). curio__dwarf_frames appends the frames of the address at
 * (pc - 1; index, module and offset are copied into them) and returns how many: 0 when
 * libdw knows nothing of it. curio__dwarf_give unlocks. */
typedef struct curio__dwarf curio__dwarf;
CURIO__HIDDEN curio__dwarf *curio__dwarf_take(bool *failed);
CURIO__HIDDEN size_t curio__dwarf_frames(curio__dwarf *d, uintptr_t at, size_t index,
                                         const char *module, uintptr_t offset,
                                         curio__frames *f);
CURIO__HIDDEN void curio__dwarf_give(curio__dwarf *d);

#endif
