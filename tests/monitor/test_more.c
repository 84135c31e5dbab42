/*
 * The commands beyond ps: `where all` (every task's stack), `ended` (the last tasks to end
 * and how: result, error, timeout, cancelled and by whom), `blocked` (what a blocked task
 * waits on: a socket and its peer, a listening socket, a pipe, a lock, an event), `stats`
 * (counters, "name value" a line), and `json CMD` for each of them, checked by parsing.
 */
#include "montest.h"
#include "jsoncheck.h"
#include "monitor.h"

#include <inttypes.h>

static curio_event ev_never = CURIO_EVENT_INIT;
static curio_lock lock = CURIO_LOCK_INIT;
static int pipefd[2];

static long sleeper(void *arg)
{
    (void)arg;
    return curio_sleep(100) < 0 ? 0 : 1;
}

/* Ends with the sleep's result: -ECANCELED when cancelled. */
static long sleep_ret(void *arg)
{
    (void)arg;
    long rc = (long)curio_sleep(100);
    __asm__ volatile("" ::: "memory"); /* not a tail call: its frame stays for where */
    return rc;
}

static long event_waiter(void *arg)
{
    (void)arg;
    return curio_event_wait(&ev_never);
}

static long locker(void *arg)
{
    (void)arg;
    int rc = curio_lock_acquire(&lock);
    if (rc == 0)
        curio_lock_release(&lock);
    return rc;
}

static long pipe_reader(void *arg)
{
    (void)arg;
    char c;
    return curio_read(pipefd[0], &c, 1);
}

static long receiver(void *arg)
{
    char c;
    return curio_recv(arg, &c, 1, 0);
}

static long acceptor(void *arg)
{
    curio_socket *c;
    int rc = curio_accept(arg, &c, NULL);
    if (rc == 0)
        curio_socket_close(c);
    return rc;
}

static long returns_7(void *arg)
{
    (void)arg;
    return 7;
}

static long fails_einval(void *arg)
{
    (void)arg;
    return -EINVAL;
}

static long times_out(void *arg)
{
    (void)arg;
    curio_scope s;
    curio_timeout_after(&s, 0.001);
    int64_t rc = curio_sleep(10);
    curio_scope_close(&s);
    return (long)rc;
}

static curio_task *spawn_named(curio_task_fn fn, void *arg, const char *name)
{
    curio_task *t;
    curio_spawn_options o = {.name = name};
    cr_assert_eq(curio_spawn_ex(&t, fn, arg, &o), 0);
    return t;
}

/* The line of a reply that begins with the task id (a table's row), copied into row. */
static const char *row_of(const char *reply, uint64_t id, char *row, size_t cap)
{
    return ps_row(reply, id, row, cap);
}

/* ---- where all ---- */

static long where_all_main(void *arg)
{
    (void)arg;
    curio_task *s1 = spawn_named(sleeper, NULL, "sleepy");
    curio_task *e1 = spawn_named(event_waiter, NULL, "waiter");
    wait_state(s1, "TIME_SLEEP");
    wait_state(e1, "EVENT_WAIT");
    mon_conn *c = mon_open();
    const char *r = mon_cmd(c, "where all");
    char key[96];
    snprintf(key, sizeof key, "Stack for Task(id=%" PRIu64 ", name='sleepy', state='TIME_SLEEP')",
             curio_task_id(s1));
    const char *a = strstr(r, key);
    cr_assert(a, "where all: %s", r);
    snprintf(key, sizeof key, "Stack for Task(id=%" PRIu64 ", name='waiter', state='EVENT_WAIT')",
             curio_task_id(e1));
    const char *b = strstr(r, key);
    cr_assert(b && b > a, "where all, in id order: %s", r);
    cr_assert(strstr(a, WHERE_FRAME("sleeper", "test_monitor_more")), "%s", r);
    cr_assert(strstr(b, WHERE_FRAME("event_waiter", "test_monitor_more")), "%s", r);
    /* One stack per live task: the main task, the agent, and the two. */
    int stacks = 0;
    for (const char *p = r; (p = strstr(p, "Stack for Task(")); p++)
        stacks++;
    cr_assert_eq(stacks, 4, "%s", r);
    cr_assert_null(strstr(r, "Error"), "%s", r);

    r = mon_cmd(c, "json where all");
    cr_assert(json_valid(r), "not JSON: %s", r);
    snprintf(key, sizeof key, "{\"id\": %" PRIu64 ", \"name\": \"sleepy\", \"state\": "
                              "\"TIME_SLEEP\"", curio_task_id(s1));
    cr_assert(strstr(r, key), "%s", r);
    cr_assert(strstr(r, "\"stacks\": ["), "%s", r);
#if CURIO_LIBDW
    cr_assert(strstr(r, "\"func\": \"sleeper\""), "%s", r);
#endif
    snprintf(key, sizeof key, "json where %" PRIu64, curio_task_id(e1));
    r = mon_cmd(c, key);
    cr_assert(json_valid(r), "not JSON: %s", r);
    cr_assert(strstr(r, "\"name\": \"waiter\""), "%s", r);
    r = mon_cmd(c, "json where 999999");
    cr_assert(json_valid(r), "not JSON: %s", r);
    cr_assert_str_eq(r, "{\"error\": \"no task 999999\"}\n");
    mon_close(c);
    curio_cancel(s1);
    curio_cancel(e1);
    curio_task_release(s1);
    curio_task_release(e1);
    return 0;
}

Test(more, where_all) { cr_assert_eq(run_monitored(where_all_main, NULL), 0); }

/* ---- ended ---- */

static long ended_main(void *arg)
{
    (void)arg;
    uint64_t me = curio_task_id(curio_current());
    curio_task *t7 = spawn_named(returns_7, NULL, "seven");
    curio_task *te = spawn_named(fails_einval, NULL, "einval");
    curio_task *tt = spawn_named(times_out, NULL, "timeout");
    curio_task *tc = spawn_named(sleep_ret, NULL, "cancelme");
    curio_task *tm = spawn_named(sleep_ret, NULL, "bymonitor");
    curio_task_wait(t7);
    curio_task_wait(te);
    curio_task_wait(tt);
    wait_state(tc, "TIME_SLEEP");
    wait_state(tm, "TIME_SLEEP");
    curio_cancel(tc);
    mon_conn *c = mon_open();
    char line[64];
    snprintf(line, sizeof line, "cancel %" PRIu64, curio_task_id(tm));
    const char *r = mon_cmd(c, line);
    cr_assert(strstr(r, "cancelled"), "%s", r);

    r = mon_cmd(c, "ended");
    char row[256], want[96];
    row_of(r, curio_task_id(t7), row, sizeof row);
    cr_assert(strstr(row, "seven") && strstr(row, "result 7"), "%s", r);
    row_of(r, curio_task_id(te), row, sizeof row);
    cr_assert(strstr(row, "einval") && strstr(row, "error -22 ("), "%s", r);
    row_of(r, curio_task_id(tt), row, sizeof row);
    cr_assert(strstr(row, "timeout") && strstr(row, "error -110") &&
                  strstr(row, "a timeout)"), "%s", r);
    row_of(r, curio_task_id(tc), row, sizeof row);
    snprintf(want, sizeof want, "cancelled by task %" PRIu64, me);
    cr_assert(strstr(row, "cancelme") && strstr(row, want), "%s", r);
    row_of(r, curio_task_id(tm), row, sizeof row);
    cr_assert(strstr(row, "bymonitor") && strstr(row, "cancelled by task 1 (the monitor)"),
              "%s", r);
    /* Newest first: the monitor's cancellation came last. */
    const char *first = strchr(strchr(r, '\n') + 1, '\n') + 1;
    snprintf(want, sizeof want, "%-6" PRIu64 " ", curio_task_id(tm));
    cr_assert(strncmp(first, want, strlen(want)) == 0, "%s", r);
    cr_assert(strstr(r, "(5 tasks ended in all; the last 64 are kept"), "%s", r);

    r = mon_cmd(c, "json ended");
    cr_assert(json_valid(r), "not JSON: %s", r);
    cr_assert(strstr(r, "\"ended_total\": 5"), "%s", r);
    snprintf(want, sizeof want, "{\"id\": %" PRIu64 ", \"parent\": %" PRIu64 ", \"name\": "
                                "\"cancelme\"", curio_task_id(tc), me);
    const char *p = strstr(r, want);
    cr_assert(p, "%s", r);
    snprintf(want, sizeof want, "\"how\": \"cancelled\", \"result\": -125, \"timeout\": "
                                "false, \"cancelled_by\": %" PRIu64, me);
    cr_assert(strstr(p, want), "%s", r);
    cr_assert(strstr(r, "\"name\": \"timeout\"") && strstr(r, "\"timeout\": true"), "%s", r);
    mon_close(c);
    curio_task_release(t7);
    curio_task_release(te);
    curio_task_release(tt);
    curio_task_release(tc);
    curio_task_release(tm);
    return 0;
}

Test(more, ended) { cr_assert_eq(run_monitored(ended_main, NULL), 0); }

/* More than the ring holds: the newest 64 are kept, and the total counts all. */
static long ended_ring_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        curio_task *t = spawn_named(returns_7, NULL, "many");
        curio_task_wait(t);
        curio_task_release(t);
    }
    mon_conn *c = mon_open();
    const char *r = mon_cmd(c, "ended");
    int rows = 0;
    for (const char *p = r; (p = strstr(p, " many ")); p++)
        rows++;
    cr_assert_eq(rows, CURIO__MON_ENDED, "%s", r);
    cr_assert(strstr(r, "(100 tasks ended in all"), "%s", r);
    mon_close(c);
    return 0;
}

Test(more, ended_ring) { cr_assert_eq(run_monitored(ended_ring_main, NULL), 0); }

/* ---- blocked ---- */

static long blocked_main(void *arg)
{
    (void)arg;
    cr_assert_eq(pipe(pipefd), 0);
    curio_socket *ls, *ls2, *cl, *sv;
    cr_assert_eq(curio_tcp_server_socket(&ls, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(curio_tcp_server_socket(&ls2, "127.0.0.1", 0, NULL), 0);
    curio_addr la, la2, cla;
    cr_assert_eq(curio_socket_getsockname(ls, &la), 0);
    cr_assert_eq(curio_socket_getsockname(ls2, &la2), 0);
    cr_assert_eq(curio_open_connection(&cl, "127.0.0.1", (uint16_t)curio_addr_port(&la), NULL),
                 0);
    cr_assert_eq(curio_accept(ls, &sv, NULL), 0);
    cr_assert_eq(curio_socket_getsockname(cl, &cla), 0);
    char peer[CURIO_ADDR_STRLEN], lname[CURIO_ADDR_STRLEN];
    curio_addr_format(&cla, peer, sizeof peer);
    curio_addr_format(&la2, lname, sizeof lname);

    cr_assert_eq(curio_lock_acquire(&lock), 0);
    curio_task *tl = spawn_named(locker, NULL, "locker");
    curio_task *te = spawn_named(event_waiter, NULL, "evwait");
    curio_task *tp = spawn_named(pipe_reader, NULL, "piper");
    curio_task *tr = spawn_named(receiver, sv, "recv");
    curio_task *ta = spawn_named(acceptor, ls2, "accept");
    curio_task *ts = spawn_named(sleeper, NULL, "sleepy");
    wait_state(tl, "LOCK_ACQUIRE");
    wait_state(te, "EVENT_WAIT");
    wait_state(tp, "READ_WAIT");
    wait_state(tr, "READ_WAIT");
    wait_state(ta, "READ_WAIT");
    wait_state(ts, "TIME_SLEEP");

    mon_conn *c = mon_open();
    const char *r = mon_cmd(c, "blocked");
    char row[256], want[256];
    row_of(r, curio_task_id(tl), row, sizeof row);
    cr_assert(strstr(row, "LOCK_ACQUIRE") && strstr(row, "locker") && strstr(row, "lock at 0x"),
              "%s", r);
    void *at = NULL;
    cr_assert_eq(sscanf(strstr(row, " at ") + 4, "%p", &at), 1);
    cr_assert((char *)at >= (char *)&lock && (char *)at < (char *)&lock + sizeof lock,
              "%p is not inside the lock %p: %s", at, (void *)&lock, r);
    row_of(r, curio_task_id(te), row, sizeof row);
    cr_assert(strstr(row, "EVENT_WAIT") && strstr(row, "event at 0x"), "%s", r);
    cr_assert_eq(sscanf(strstr(row, " at ") + 4, "%p", &at), 1);
    cr_assert((char *)at >= (char *)&ev_never && (char *)at < (char *)&ev_never + sizeof ev_never);
    row_of(r, curio_task_id(tp), row, sizeof row);
    snprintf(want, sizeof want, " fd %d", pipefd[0]);
    cr_assert(strstr(row, "READ_WAIT") && strlen(row) > strlen(want) &&
                  strcmp(row + strlen(row) - strlen(want), want) == 0, "%s", r);
    row_of(r, curio_task_id(tr), row, sizeof row);
    snprintf(want, sizeof want, "fd %d, socket, peer %s", curio_socket_fd(sv), peer);
    cr_assert(strstr(row, want), "want '%s': %s", want, r);
    row_of(r, curio_task_id(ta), row, sizeof row);
    snprintf(want, sizeof want, "fd %d, socket, listening on %s", curio_socket_fd(ls2), lname);
    cr_assert(strstr(row, want), "want '%s': %s", want, r);
    /* A sleep waits on neither. */
    row_of(r, curio_task_id(ts), row, sizeof row);
    cr_assert_str_eq(row, "", "%s", r);
    /* and the main task, in the receive of this client */
    cr_assert(strstr(r, "(6 tasks wait on a descriptor or an object)"), "%s", r);

    r = mon_cmd(c, "json blocked");
    cr_assert(json_valid(r), "not JSON: %s", r);
    snprintf(want, sizeof want, "\"name\": \"recv\", \"fd\": %d, \"socket\": true, \"peer\": "
                                "\"%s\"", curio_socket_fd(sv), peer);
    cr_assert(strstr(r, want), "want '%s': %s", want, r);
    cr_assert(strstr(r, "\"name\": \"locker\", \"object\": \"lock\", \"address\": \"0x"), "%s",
              r);
    mon_close(c);

    curio_task *all[] = {tl, te, tp, tr, ta, ts};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        curio_cancel(all[i]);
        curio_task_release(all[i]);
    }
    curio_lock_release(&lock);
    curio_socket_close(cl);
    curio_socket_close(sv);
    curio_socket_close(ls);
    curio_socket_close(ls2);
    close(pipefd[0]);
    close(pipefd[1]);
    return 0;
}

Test(more, blocked) { cr_assert_eq(run_monitored(blocked_main, NULL), 0); }

/* ---- stats ---- */

/* The value of counter name in a stats reply, or -1. */
static long long stat_of(const char *r, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strncmp(r, key + 1, strlen(key + 1)) == 0 ? r - 1 : strstr(r, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static long stats_main(void *arg)
{
    (void)arg;
    curio_task *s1 = spawn_named(sleeper, NULL, "sleepy");
    curio_task *s2 = spawn_named(sleeper, NULL, "sleepy2");
    curio_task *t7 = spawn_named(returns_7, NULL, "seven");
    curio_task_wait(t7);
    curio_task_release(t7);
    wait_state(s1, "TIME_SLEEP");
    wait_state(s2, "TIME_SLEEP");
    mon_conn *c = mon_open();
    const char *r = mon_cmd(c, "stats");
    /* Every line is "name value". */
    for (const char *p = r; *p; p = strchr(p, '\n') + 1) {
        char name[64];
        unsigned long long v;
        int used = 0;
        cr_assert_eq(sscanf(p, "%63[a-z_] %llu%n", name, &v, &used), 2, "line: %s", p);
        cr_assert_eq(p[used], '\n', "%s", r);
    }
    /* main, the agent, the two sleepers */
    cr_assert_eq(stat_of(r, "tasks"), 4, "%s", r);
    cr_assert_eq(stat_of(r, "tasks_ended"), 1, "%s", r);
    cr_assert_geq(stat_of(r, "timers"), 2, "%s", r);
    cr_assert_geq(stat_of(r, "switches"), 5, "%s", r);
    cr_assert_geq(stat_of(r, "sq_entries"), 1, "%s", r);
    cr_assert_geq(stat_of(r, "cq_entries"), stat_of(r, "sq_entries"), "%s", r);
    cr_assert_eq(stat_of(r, "cq_overflows"), 0, "%s", r);
    cr_assert_geq(stat_of(r, "ops_inflight"), 0, "%s", r);
    cr_assert_geq(stat_of(r, "sq_depth"), 0, "%s", r);
    cr_assert_geq(stat_of(r, "cq_depth"), 0, "%s", r);
    cr_assert_eq(stat_of(r, "busy"), 0, "%s", r);
    long long sw = stat_of(r, "switches");
    r = mon_cmd(c, "stats");
    cr_assert_gt(stat_of(r, "switches"), sw, "the agent ran meanwhile: %s", r);

    r = mon_cmd(c, "json stats");
    cr_assert(json_valid(r), "not JSON: %s", r);
    cr_assert(strstr(r, "\"tasks\": 4, ") && strstr(r, "\"tasks_ended\": 1, "), "%s", r);
    mon_close(c);
    curio_cancel(s1);
    curio_cancel(s2);
    curio_task_release(s1);
    curio_task_release(s2);
    return 0;
}

Test(more, stats) { cr_assert_eq(run_monitored(stats_main, NULL), 0); }

/* ---- json: every command ---- */

static long json_main(void *arg)
{
    (void)arg;
    curio_task *s1 = spawn_named(sleeper, NULL, "quote\"back\\slash\ttab");
    wait_state(s1, "TIME_SLEEP");
    mon_conn *c = mon_open();
    static const char *const cmds[] = {
        "ps", "where 1", "where all", "ended", "blocked", "stats", "parents 1", "help",
        "cancel 1", "cancel 999", "where x", "nosuch", "json", "json ps", "signal nosuch",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "json %s", cmds[i]);
        const char *r = mon_cmd(c, line);
        cr_assert(json_valid(r), "'%s' is not JSON: %s", line, r);
        cr_assert_eq(r[strlen(r) - 1], '\n');
        cr_assert_eq(strchr(r, '\n'), r + strlen(r) - 1, "one line: %s", r);
    }
    const char *r = mon_cmd(c, "json ps");
    cr_assert(strstr(r, "\"name\": \"quote\\\"back\\\\slash\\ttab\""), "%s", r);
    cr_assert(strstr(r, "{\"busy\": false, \"tasks\": [{\"id\": "), "%s", r);
    cr_assert(strstr(r, "\"name\": \"monitor\", \"daemon\": true, \"internal\": true, "
                        "\"own\": true}"), "%s", r);
    r = mon_cmd(c, "json parents 1");
    cr_assert_str_eq(r, "{\"chain\": [{\"id\": 1, \"state\": \"RUNNING\", \"name\": "
                        "\"monitor\"}]}\n");
    char line[64], want[160];
    snprintf(line, sizeof line, "json parents %" PRIu64, curio_task_id(s1));
    r = mon_cmd(c, line);
    snprintf(want, sizeof want, "{\"chain\": [{\"id\": %" PRIu64 ", \"state\": \"TIME_SLEEP\"",
             curio_task_id(s1));
    cr_assert(json_valid(r) && strncmp(r, want, strlen(want)) == 0, "%s", r);
    snprintf(want, sizeof want, "{\"id\": %" PRIu64 ", \"state\": \"RUNNING\"",
             curio_task_id(curio_current()));
    cr_assert(strstr(r, want) == NULL, "the main task waits for the reply: %s", r);
    r = mon_cmd(c, "json cancel 1");
    cr_assert(strstr(r, "{\"error\": \"task 1 (monitor) is curio's own"), "%s", r);
    /* signal's reply goes out before the signal (ignored by default: SIGWINCH). */
    r = mon_cmd(c, "json signal SIGWINCH");
    cr_assert(json_valid(r) && strstr(r, "{\"signal\": \"SIGWINCH\", \"number\": "), "%s", r);
    r = mon_cmd(c, "json help");
    cr_assert(strncmp(r, "{\"text\": \"Commands:\\n", 21) == 0, "%s", r);
    /* Text replies again afterwards. */
    r = mon_cmd(c, "ps");
    cr_assert(strncmp(r, "Task ", 5) == 0, "%s", r);
    mon_close(c);
    curio_cancel(s1);
    curio_task_release(s1);
    return 0;
}

Test(more, json) { cr_assert_eq(run_monitored(json_main, NULL), 0); }

/* ---- kernels: every kernel of a curio_cores_run, and acting on another one ---- */

#include <curio/cores.h>

static _Atomic uint64_t k1_sleeper;   /* the id of kernel 1's sleeper, once spawned */
static _Atomic bool k0_done;          /* kernel 0's checks are over */
static _Atomic bool k1_spin;          /* kernel 1's main spins (never traps) while set */
static _Atomic bool k1_spinning;      /* set by kernel 1's main once it spins */

static long cores_main(unsigned index, void *arg)
{
    (void)arg;
    if (index == 1) {
        curio_task *t = spawn_named(sleep_ret, NULL, "k1sleeper");
        wait_state(t, "TIME_SLEEP");
        atomic_store(&k1_sleeper, curio_task_id(t));
        /* 0 once the monitor of kernel 0 has cancelled it */
        long res = curio_join(t, NULL) == CURIO_ETASKCANCELLED ? 0 : 1;
        curio_task_release(t);
        /* Stay readable until kernel 0 has checked the outcome. */
        for (int i = 0; i < 5000 && !atomic_load(&k0_done); i++) {
            int64_t end = curio_clock() + 10 * 1000000000LL;
            if (atomic_load(&k1_spin))
                atomic_store(&k1_spinning, true);
            while (atomic_load(&k1_spin) && curio_clock() < end)
                ;
            curio_sleep(0.001);
        }
        return res;
    }
    for (int i = 0; i < 5000 && !atomic_load(&k1_sleeper); i++)
        curio_sleep(0.001);
    uint64_t id = atomic_load(&k1_sleeper);
    cr_assert_neq(id, 0);
    mon_conn *c = mon_open();
    const char *r = mon_cmd(c, "kernels");
    cr_assert(strstr(r, "Kernel 0 (thread ") && strstr(r, ", this monitor's: "), "%s", r);
    cr_assert(strstr(r, "\nKernel 1 (thread "), "%s", r);
    char want[128];
    snprintf(want, sizeof want, "    1:%-8" PRIu64 " TIME_SLEEP   ", id);
    const char *row = strstr(r, want);
    cr_assert(row && strstr(row, "k1sleeper\n"), "want '%s': %s", want, r);
    cr_assert(strstr(r, "    1:1        "), "kernel 1's agent: %s", r);

    r = mon_cmd(c, "json kernels");
    cr_assert(json_valid(r), "not JSON: %s", r);
    snprintf(want, sizeof want, "{\"id\": \"1:%" PRIu64 "\", \"state\": \"TIME_SLEEP\"", id);
    cr_assert(strstr(r, "{\"run\": true, \"kernels\": [{\"index\": 0, ") && strstr(r, want),
              "%s", r);

    r = mon_cmd(c, "on 1 ps");
    char prow[256];
    ps_row(r, id, prow, sizeof prow);
    cr_assert(strstr(prow, "TIME_SLEEP") && strstr(prow, "k1sleeper"), "%s", r);
    cr_assert_str_eq(mon_cmd(c, "on 7 ps"), "Error: no kernel 7 in this run (or it is "
                                            "ending)\n");
    cr_assert_str_eq(mon_cmd(c, "on x ps"), "Error: usage: on kernel command (kernel: its "
                                            "index, as kernels lists)\n");

    snprintf(want, sizeof want, "where 1:%" PRIu64, id);
    r = mon_cmd(c, want);
    snprintf(want, sizeof want, "Stack for Task(id=%" PRIu64 ", name='k1sleeper'", id);
    cr_assert(strstr(r, want) && strstr(r, WHERE_FRAME("sleep_ret", "test_monitor_more")),
              "%s", r);
    r = mon_cmd(c, "on 1 where all");
    snprintf(want, sizeof want, "Stack for Task(id=%" PRIu64 ", name='k1sleeper'", id);
    cr_assert(strstr(r, want) && strstr(r, "Stack for Task(id=1, name='monitor'") &&
                  !strstr(r, "Error"), "%s", r);
    r = mon_cmd(c, "where 0:1");
    cr_assert(strstr(r, "Stack for Task(id=1, name='monitor'"), "kernel 0's own: %s", r);

    snprintf(want, sizeof want, "cancel 1:%" PRIu64, id);
    r = mon_cmd(c, want);
    snprintf(want, sizeof want, "Task %" PRIu64 " cancelled", id);
    cr_assert(strstr(r, want), "%s", r);
    r = mon_cmd(c, "on 1 ended");
    ps_row(r, id, prow, sizeof prow);
    cr_assert(strstr(prow, "cancelled by task 1 (the monitor)"), "%s", r);
    r = mon_cmd(c, "json on 1 stats");
    cr_assert(json_valid(r) && strstr(r, "\"tasks_ended\": 1"), "%s", r);

    /* Kernel 1 busy: kernels still shows it (the thread-safe view), a request to it is
     * reported and left queued. */
    atomic_store(&k1_spin, true);
    /* Wait until kernel 1's main spins: before that, "running task 1:1" may be kernel 1's
     * agent answering, and a request would be answered. */
    for (int i = 0; i < 5000 && !atomic_load(&k1_spinning); i++)
        curio_sleep(0.001);
    cr_assert(atomic_load(&k1_spinning), "kernel 1 never spun");
    for (int i = 0; i < 5000; i++) {
        r = mon_cmd(c, "kernels");
        if (strstr(r, "tasks, running task 1:"))
            break;
        curio_sleep(0.001);
    }
    cr_assert(strstr(r, "tasks, running task 1:"), "%s", r);
    cr_assert_str_eq(mon_cmd(c, "on 1 stats"), "Error: kernel 1 did not answer within 50 ms "
                                               "(a task runs without trapping); the request "
                                               "stays queued\n");
    atomic_store(&k1_spin, false);
    mon_close(c);
    atomic_store(&k0_done, true);
    return 0;
}

Test(more, kernels)
{
    long results[2] = {1, 1};
    curio_cores_options o = {.kernels = 2, .kernel = &mon_opts, .results = results,
                             .no_signals = true};
    int rc = curio_cores_run(cores_main, NULL, &o);
    cr_assert_eq(rc, 0, "curio_cores_run: %s", curio_strerror(rc));
    cr_assert_eq(results[0], 0);
    cr_assert_eq(results[1], 0, "kernel 1's sleeper was cancelled");
}

/* ---- while a task spins: the thread-safe answers ---- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static _Atomic bool stop_spin;

/* Not static, and the test is linked with export_dynamic: a build without libdw names it
 * through dladdr. */
__attribute__((noinline)) void spin_more(void)
{
    int64_t end = curio_clock() + 20 * 1000000000LL;
    while (!atomic_load(&stop_spin) && curio_clock() < end)
        ;
}

long spinner(void *arg)
{
    (void)arg;
    spin_more();
    return 0;
}

struct busy_client {
    int port;
    uint64_t id;
    char stats[4096], jstats[4096], ended[4096], kernels[4096], blocked[4096], jps[8192],
        wall[16384], jwall[16384];
    int err;
};

static long busy_client_fn(void *arg)
{
    struct busy_client *c = arg;
    int fd = mon_blocking_open(c->port);
    if (fd < 0)
        return c->err = fd;
    char banner[1024];
    if ((c->err = mon_blocking_exchange(fd, NULL, banner, sizeof banner)) < 0)
        goto out;
    /* stats until it says the spinner runs (at most 10 s). */
    char key[64];
    snprintf(key, sizeof key, "running_task %llu\n", (unsigned long long)c->id);
    for (int i = 0; i < 500; i++) {
        if ((c->err = mon_blocking_exchange(fd, "stats\n", c->stats, sizeof c->stats)) < 0)
            goto out;
        if (strstr(c->stats, key))
            break;
        nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
    }
    const struct {
        const char *cmd;
        char *out;
        size_t cap;
    } steps[] = {
        {"json stats\n", c->jstats, sizeof c->jstats},
        {"ended\n", c->ended, sizeof c->ended},
        {"kernels\n", c->kernels, sizeof c->kernels},
        {"blocked\n", c->blocked, sizeof c->blocked},
        {"json ps\n", c->jps, sizeof c->jps},
        {"where all\n", c->wall, sizeof c->wall},
        {"json where all\n", c->jwall, sizeof c->jwall},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if ((c->err = mon_blocking_exchange(fd, steps[i].cmd, steps[i].out, steps[i].cap)) < 0)
            goto out;
out:
    atomic_store(&stop_spin, true);
    close(fd);
    return 0;
}

static long busy_main(void *arg)
{
    (void)arg;
    curio_task *t7 = spawn_named(returns_7, NULL, "seven");
    curio_task_wait(t7);
    curio_task_release(t7);
    curio_task *t = spawn_named(spinner, NULL, "spinner");
    static struct busy_client c;
    c.port = mon_port();
    c.id = curio_task_id(t);
    long r;
    cr_assert_eq(curio_run_in_thread(busy_client_fn, &c, &r), 0);
    cr_assert_eq(c.err, 0, "client: %s", curio_strerror(c.err));

    char key[128];
    snprintf(key, sizeof key, "running_task %llu\n", (unsigned long long)c.id);
    cr_assert(strstr(c.stats, key) && strstr(c.stats, "busy 1\n") &&
                  strstr(c.stats, "tasks_ended 1\n"), "%s", c.stats);
    cr_assert(json_valid(c.jstats) && strstr(c.jstats, "{\"busy\": true, "), "%s", c.jstats);
    /* ended and kernels read the thread-safe view: answered in full. */
    cr_assert(strstr(c.ended, " seven ") && strstr(c.ended, "result 7"), "%s", c.ended);
    snprintf(key, sizeof key, "running task 0:%llu\n", (unsigned long long)c.id);
    cr_assert(strstr(c.kernels, key), "%s", c.kernels);
    cr_assert(strstr(c.blocked, "Error: what tasks wait on can be read once the kernel "
                                "answers (the kernel is busy: task "), "%s", c.blocked);
    cr_assert(json_valid(c.jps) && strstr(c.jps, "{\"busy\": true, \"running\": "), "%s", c.jps);
    /* where all: the spinner sampled where it runs, the others once the kernel answers. */
    snprintf(key, sizeof key, "Stack for Task(id=%llu, name='spinner', state='RUNNING')",
             (unsigned long long)c.id);
    const char *w = strstr(c.wall, key);
    cr_assert(w && strstr(w, "in spin_more\n"), "%s", c.wall);
    cr_assert(strstr(c.wall, "Error: task 1's stack can be read once the kernel answers"),
              "%s", c.wall);
    cr_assert(json_valid(c.jwall), "not JSON: %s", c.jwall);
    cr_assert(strstr(c.jwall, "{\"id\": 1, \"error\": \"task 1's stack can be read once"),
              "%s", c.jwall);
    curio_task_wait(t);
    curio_task_release(t);
    return 0;
}

Test(more, while_a_task_spins) { cr_assert_eq(run_monitored(busy_main, NULL), 0); }
