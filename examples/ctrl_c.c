/*
 * Ctrl-C handled by the program instead of ending it: a SignalQueue (Python:
 * `SignalQueue(signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)`) gets the signals in the
 * order they arrive. SIGUSR1 asks for a report; Ctrl-C (SIGINT) or SIGTERM cancels the
 * workers, which save their work (in a disable_cancellation block) before they end.
 *
 *     ./ctrl_c [scale]     (scale multiplies the workers' pace; default 1.0)
 *
 * Press Ctrl-C to stop it; `kill -USR1 <pid>` for a report.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static double scale = 1.0;
static long done[2];

static long worker(void *arg)
{
    long id = (long)(intptr_t)arg;
    int64_t rc;
    while ((rc = curio_sleep(0.1 * scale)) >= 0)
        done[id]++;                                  /* a unit of work */
    if (rc == -ECANCELED) {
        curio_scope nc;
        curio_disable_cancellation(&nc);             /* cleanup that must not be cut short */
        curio_sleep(0.2 * scale);
        printf("worker %ld: saved my work\n", id);
        curio_scope_close(&nc);
    }
    return rc;
}

static long main_task(void *arg)
{
    (void)arg;
    int sigs[] = {SIGINT, SIGTERM, SIGUSR1};
    curio_signal_queue *q;
    int rc = curio_signal_queue_create(&q, sigs, 3, 0);
    if (rc < 0)
        return rc;
    curio_group *g;
    if ((rc = curio_group_create(&g, CURIO_WAIT_ALL)) < 0) {
        curio_signal_queue_destroy(q);
        return rc;
    }
    for (long i = 0; i < 2 && rc == 0; i++)
        rc = curio_group_spawn(g, NULL, worker, (void *)(intptr_t)i, NULL);
    printf("Running as pid %d: Ctrl-C to stop, kill -USR1 %d for a report\n",
           (int)getpid(), (int)getpid());
    int signo = 0;
    while (rc == 0 && (rc = curio_signal_queue_get(q, &signo)) == 0) {
        if (signo != SIGUSR1)
            break;
        printf("report: %ld units of work done\n", done[0] + done[1]);
    }
    if (rc == 0)
        printf("Got %s: stopping the workers\n", signo == SIGINT ? "SIGINT" : "SIGTERM");
    curio_group_destroy(g);                          /* cancels them and waits */
    curio_signal_queue_destroy(q);
    printf("Bye\n");
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int sigs[] = {SIGINT, SIGTERM, SIGUSR1};
    curio_enable_signals(sigs, 3);                   /* before any thread exists */
    long result = 0;
    int rc = curio_run(main_task, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "ctrl_c: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
