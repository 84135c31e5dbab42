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
/* Append s as a JSON string: quoted, with '"', '\\' and control characters escaped
 * (bytes of 0x80 and above are copied: names are taken to be UTF-8). NULL gives "". */
CURIO__HIDDEN void curio__text_json(curio__text *t, const char *s);
CURIO__HIDDEN void curio__text_free(curio__text *t);

/* ---- the monitor of a kernel (server.c) ---- */

struct curio__mon_session;

/*
 * A kernel's monitor lives on two threads. The monitor's thread runs a curio kernel of its
 * own (mk) with the server and one session task per connection, and a sampler task that
 * watches which task the kernel (k) runs and since when; it reads k only through
 * introspect.h's thread-safe calls. On k's thread, the agent task ("monitor", task 1)
 * does what must happen there (snapshots with timeouts, probes of suspended stacks,
 * cancellations), one request at a time from the queue `requests` (ask.c). A session
 * waits for the agent for a moment (CURIO__MON_ASK_WAIT); a kernel too busy to answer
 * (a task running without trapping) is answered from the thread-safe view instead.
 */
struct curio__monitor {
    /* set before either thread uses it, then read only */
    curio_kernel *k;                     /* the kernel watched */
    int tid;                             /* its thread (gettid) */
    curio_addr addr;                     /* where it listens (the chosen port filled in) */
    char where[CURIO_ADDR_STRLEN];       /* addr as text, for messages */
    uint64_t server_id;                  /* the agent task's id on k */
    bool quiet;                          /* the kernel's quiet option: no messages */
    const void *run;                     /* k's curio_cores_run, or NULL */
    unsigned core;                       /* k's index in it */
    bool agent_only;                     /* a kernel of a run other than its first: the
                                            agent and its queue only, no thread; kernel
                                            0's monitor serves the run (more.c) */
    double idle;                         /* seconds a session may wait for a command line,
                                            or for a reply to go out, before it is closed;
                                            negative: no limit */
    curio_universal_queue *requests;     /* curio__mon_req, from sessions to the agent */

    /* the monitor's thread */
    pthread_t thread;
    curio_kernel *mk;                    /* its kernel */
    curio_socket *ls;                    /* the listening socket, an mk socket */
    int start_rc;                        /* how its start went (then `started` is posted) */
    int mtid;                            /* its gettid (tests) */
    void *started;                       /* sem_t, posted by the thread once listening */
    /* only on the monitor's thread */
    curio__task *mmain;                  /* mk's main task */
    bool stopping;                       /* curio_kernel_destroy of k asked it to end */
    curio__post stop;                    /* that request, posted to mk */
    pthread_mutex_t stop_lock;           /* guards stop_asked (both threads) */
    pthread_cond_t stop_cv;
    bool stop_asked;
    curio__list sessions;                /* live sessions, newest first (by node) */
    unsigned nsessions;
    uint64_t seen_running, seen_switches; /* the sampler's last look at k */
    int64_t seen_since;                  /* when it first saw that (ns) */

    /* only on k's thread (the agent) */
    struct curio__mon_held *held;        /* tasks being cancelled, kept for their outcome */
};

/* How long a session waits for the agent before answering from the thread-safe view. */
#define CURIO__MON_ASK_WAIT 0.05
/* How often the sampler looks at the kernel, seconds. */
#define CURIO__MON_SAMPLE 0.01

/* The default of curio_options.monitor_idle_timeout, seconds. */
#define CURIO__MON_IDLE_DEFAULT 300.0

/* How many ended tasks a kernel with a monitor keeps (`ended`). */
#define CURIO__MON_ENDED 64

/* At most this many connections are served at once; more are told so and closed. */
#define CURIO__MON_MAX_SESSIONS 16

/* One connection, living on its task's stack (session.c). */
typedef struct curio__mon_session {
    curio__list_node node;               /* in the monitor's list */
    struct curio__monitor *mon;
    curio__task *task;                   /* the session's own task */
    char peer[CURIO_ADDR_STRLEN];        /* the client's address */
    curio_stream *stream;                /* the connection (the socket's stream) */
    curio__text out;                     /* the reply being built */
    bool quit;                           /* close after this reply */
    bool idle;                           /* closed for idling (the idle timeout expired) */
    bool json;                           /* the command runs under `json`: reply in JSON */
    bool json_list;                      /* where all under json: one item, no newline */
    int target;                          /* the kernel of the run the command is about
                                            (`on K`, a K:N id), or -1: the monitor's own */
} curio__mon_session;

/* The handler of the monitor's server: serve one connection. */
CURIO__HIDDEN long curio__mon_session_main(curio_socket *client, const curio_addr *peer,
                                           void *arg);

/* Send what out holds (in the middle of a command: without a prompt) and empty it.
 * Returns 0 or the write's error. */
CURIO__HIDDEN int curio__mon_flush(curio__mon_session *s);

/* The monitor's own task on k (the agent), which ps marks. */
CURIO__HIDDEN bool curio__mon_is_own(const struct curio__monitor *m, uint64_t id);

/* ---- requests from a session to the agent (ask.c) ---- */

enum curio__mon_op { CURIO__MON_PS, CURIO__MON_PARENTS, CURIO__MON_CANCEL, CURIO__MON_STATUS,
                     CURIO__MON_WHERE, CURIO__MON_WAITS, CURIO__MON_STATS };

#define CURIO__MON_MAX_FRAMES 64

typedef struct curio__mon_req {
    _Atomic int refs;                    /* the asker's and the agent's */
    curio_universal_event *done;         /* set by the agent once answered */
    enum curio__mon_op op;
    char arg[64];                        /* the command's argument */
    bool json;                           /* answer in JSON (the asking session's json) */
    bool final;                          /* STATUS: the last one asked (report in any case) */
    /* the answer */
    curio__text out;                     /* the reply text */
    bool ended;                          /* CANCEL: refused or failed (out says why);
                                            STATUS: reported (out) */
    void *pcs[CURIO__MON_MAX_FRAMES];    /* WHERE: the stack taken (n addresses) */
    int n;
    int skip;                            /* how many of pcs are surely machinery */
    bool captured;                       /* WHERE: pcs holds a stack (else out says why) */
    curio__task_info ti;                 /* WHERE: the task when it was taken */
} curio__mon_req;

/* Hand a request to the agent and wait up to `wait` seconds for its answer. Returns 0 and
 * *out (the answer: curio__mon_req_put it), -ETIMEDOUT (the kernel did not answer in
 * time: the request stays queued and is done when the kernel gets to it), -ENOMEM, or the
 * session's cancellation. */
CURIO__HIDDEN int curio__mon_ask(curio__mon_session *s, enum curio__mon_op op,
                                 const char *arg, bool final, double wait,
                                 curio__mon_req **out);
CURIO__HIDDEN void curio__mon_req_put(curio__mon_req *r);
/* Append the answer's text to s->out (an answer cut short by a lack of memory makes the
 * reply say so). */
CURIO__HIDDEN void curio__mon_take(curio__mon_session *s, const curio__mon_req *r);
/* The reply when curio__mon_ask failed with rc (other than -ETIMEDOUT): rc for the
 * session's cancellation, else 0 with an error line. */
CURIO__HIDDEN int curio__mon_ask_failed(curio__mon_session *s, int rc);
/* The agent task's function (task 1 of k). */
CURIO__HIDDEN long curio__mon_agent(void *arg);
/* Drop the requests left in the queue (k's destroy, once the agent and the monitor's
 * thread are gone). */
CURIO__HIDDEN void curio__mon_requests_drain(struct curio__monitor *m);

/* ---- the kernel seen from the monitor's thread (sample.c) ---- */

/* The sampler task on mk: keeps seen_* up to date. */
CURIO__HIDDEN long curio__mon_sampler(void *arg);
/* The task k runs (0: none) and for how long, in seconds, it has run without trapping as
 * far as the sampler saw. */
CURIO__HIDDEN uint64_t curio__mon_running(struct curio__monitor *m, double *for_s);
/* Take the C stack of the task running on thread tid now, with a signal (SIGURG) whose
 * handler calls backtrace(); at most 1 s. Returns the number of addresses (0: none came),
 * and *skip, the handler's own frames at the start. In a task it sleeps with curio_sleep,
 * elsewhere with nanosleep. */
CURIO__HIDDEN int curio__mon_sample_stack(int tid, void **pcs, int cap, int *skip);
/* Symbolise n addresses (blocking: a thread's work) and list them as `where` does, the
 * first skip being machinery. */
CURIO__HIDDEN void curio__mon_format_stack(curio__text *o, void *const *pcs, int n, int skip);
/* The stall detector's start, a service of every kernel (stall.c; registered with the
 * monitor's, so that a static link that has the one has the other). */
CURIO__HIDDEN int curio__stall_start(curio_kernel *k);
/* On the monitor's own thread (server.c). */
CURIO__HIDDEN bool curio__mon_inner(void);
/* Load the unwinder (the first backtrace() dlopens libgcc_s) on this thread's own stack,
 * before a task's small stack or a signal handler needs it. */
CURIO__HIDDEN void curio__mon_warm_unwinder(void);
/* ps and parents from the thread-safe view, when k does not answer. */
CURIO__HIDDEN void curio__mon_ps_busy(curio__mon_session *s);
CURIO__HIDDEN void curio__mon_parents_busy(curio__mon_session *s, const char *arg);
/* One line saying what keeps k from answering. */
CURIO__HIDDEN void curio__mon_busy_line(curio__mon_session *s);

/* ---- commands (commands.c, tasks.c, where.c) ---- */

/* Run one command line (without its newline) and append the reply to s->out. Returns 0,
 * or a negative error of the session itself (its cancellation: stop serving). */
CURIO__HIDDEN int curio__mon_command(curio__mon_session *s, char *line);

/* Parse a task id argument and look the task up (curio__task_lookup: a live task, or an
 * ended one whose record is still held); on failure, append an error reply and return
 * false. */
CURIO__HIDDEN bool curio__mon_task_arg(curio__mon_session *s, const char *arg,
                                       const char *cmd, curio__task **out);

/* The commands, on the monitor's thread: they ask the agent (ask.c). */
CURIO__HIDDEN int curio__mon_cmd_ps(curio__mon_session *s, char *arg);
CURIO__HIDDEN int curio__mon_cmd_parents(curio__mon_session *s, char *arg);
CURIO__HIDDEN int curio__mon_cmd_cancel(curio__mon_session *s, char *arg);
CURIO__HIDDEN int curio__mon_cmd_where(curio__mon_session *s, char *arg);

/* More commands (more.c): ended, waits, stats, kernels; `json CMD` (commands.c) runs a
 * command with s->json set. */
CURIO__HIDDEN int curio__mon_cmd_ended(curio__mon_session *s, char *arg);
CURIO__HIDDEN int curio__mon_cmd_waits(curio__mon_session *s, char *arg);
CURIO__HIDDEN int curio__mon_cmd_stats(curio__mon_session *s, char *arg);
CURIO__HIDDEN int curio__mon_cmd_kernels(curio__mon_session *s, char *arg);
CURIO__HIDDEN int curio__mon_cmd_on(curio__mon_session *s, char *arg);
/* Queue r for kernel `index` of the monitor's run (its agent): 0, or -ESRCH (no such
 * kernel, or it is ending), or the queue's error. */
CURIO__HIDDEN int curio__mon_put_foreign(struct curio__monitor *m, unsigned index,
                                         curio__mon_req *r);
/* On the watched kernel's thread (the agent): the replies of waits and stats. */
CURIO__HIDDEN void curio__mon_waits(curio__mon_session *s, char *arg);
CURIO__HIDDEN void curio__mon_stats(curio__mon_session *s, char *arg);
/* The live tasks of the session's kernel (its target in the run, or the monitor's own)
 * seen from the monitor's thread (thread-safe), or NULL (out of memory, no such kernel:
 * said in s->out); *n: how many. free() it. */
CURIO__HIDDEN curio__task_peek *curio__mon_peek_all(curio__mon_session *s, size_t *n);

/* Their parts on the watched kernel's thread, run by the agent with a session record of
 * its own (s->task: the agent) whose out becomes the answer. */
CURIO__HIDDEN int curio__mon_ps(curio__mon_session *s, char *arg);
CURIO__HIDDEN int curio__mon_parents(curio__mon_session *s, char *arg);
struct curio__mon_req;
CURIO__HIDDEN void curio__mon_cancel_start(curio__mon_session *s, struct curio__mon_req *r);
CURIO__HIDDEN void curio__mon_cancel_status(curio__mon_session *s, struct curio__mon_req *r);
CURIO__HIDDEN void curio__mon_where_capture(curio__mon_session *s, struct curio__mon_req *r);
/* Release the tasks held for cancel's report: those held over 2 s, or all. */
CURIO__HIDDEN void curio__mon_held_expire(struct curio__monitor *m, bool all);

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
