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

/* ---- where: symbolising captured addresses (symbols.c, elf.c, addr2line.c) ---- */

/* One frame of a stack, most recent first. A return address of the stack gives one
 * frame, or several when addr2line says calls were inlined there (innermost first). */
typedef struct curio__frame {
    size_t index;           /* which of the captured addresses it came from */
    char *func;             /* malloc'd function name, or NULL if unknown */
    char *file;             /* malloc'd source file, or NULL */
    unsigned line;          /* its line, when file is set */
    const char *module;     /* the executable or library (owned by the frame set), or NULL */
    uintptr_t offset;       /* pc - 1 as an address of that file (what addr2line takes) */
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

/* Symbolise n return addresses (most recent first) into f: module, offset and function
 * name of each from the module's ELF symbol table, then file:line (and inlined calls)
 * from addr2line if it can be run. Blocking work for a pool thread: reads files and runs
 * a program (bounded by a few seconds). */
CURIO__HIDDEN void curio__symbolise(void *const *pcs, size_t n, curio__frames *f);

/* The function containing file address off in the ELF file at path, from its symbol
 * table (.symtab, else .dynsym): a malloc'd name, or NULL. *cache keeps the files opened
 * by the calls of one symbolisation; curio__elf_close releases them. */
typedef struct curio__elf_cache curio__elf_cache;
CURIO__HIDDEN char *curio__elf_function(curio__elf_cache **cache, const char *path,
                                        uintptr_t off);
CURIO__HIDDEN void curio__elf_close(curio__elf_cache *cache);

/* Run addr2line on the n file addresses offs of the ELF file path and append to out, for
 * each address it knows, its frames (innermost first, index = the address's position in
 * offs, module = module). Returns 0; -ENOENT when there is no addr2line to run (not
 * installed, or CURIO_ADDR2LINE=""); -ETIMEDOUT (it took over 5 s and was killed), -EIO
 * (it failed), -ENOMEM. On error nothing is appended. */
CURIO__HIDDEN int curio__addr2line(const char *path, const uintptr_t *offs, size_t n,
                                   const char *module, curio__frames *out);

#endif
