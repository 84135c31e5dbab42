/*
 * The tutorial's "Task-local storage" (local-example.py): each request task writes its
 * tag into a task-local variable, and a plain logging function, called from anywhere,
 * reads it back. The helpers a request spawns inherit the tag.
 *
 *     ./local_storage [scale]     (scale multiplies every sleep; default 1.0)
 *
 * Curio:
 *     request_info = curio.Local()
 *
 *     def log(msg):
 *         print("request {}: {}".format(request_info.tag, msg))
 *
 *     async def handle_request(tag):
 *         request_info.tag = tag
 *         ...
 *
 * As in Curio, reading or writing a task-local value is not a blocking call, and a spawned
 * task starts with a copy of its parent's values. The Python version sleeps r.random()
 * seconds, r = random.Random(0); here the pauses come from a fixed table, so that each
 * request's own lines come in the same order on every run (how the three requests
 * interleave still depends on the timing, as in Python).
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static double scale = 1.0;

static curio_local request_info = {.name = "request_info"};   /* curio.Local() */

/* The pauses of request tag, in seconds: after receiving, for helpers 1 and 2, before
 * completing (the Python version's r.random() calls). */
static const double pauses[3][4] = {
    {0.84, 0.26, 0.51, 0.40},
    {0.76, 0.78, 0.30, 0.48},
    {0.42, 0.58, 0.91, 0.25},
};

/* Example logging function that tags each line with the request identifier. */
static void log_msg(const char *msg)
{
    long tag = (long)(intptr_t)curio_local_get(&request_info) - 1; /* read task-local storage */
    printf("request %ld: %s\n", tag, msg);
    fflush(stdout);
}

static long concurrent_helper(void *arg)
{
    long job = (long)(intptr_t)arg;
    long tag = (long)(intptr_t)curio_local_get(&request_info) - 1;
    char msg[64];
    snprintf(msg, sizeof msg, "running helper task %ld", job);
    log_msg(msg);
    int64_t rc = curio_sleep(pauses[tag][job] * scale);
    if (rc < 0)
        return rc;
    snprintf(msg, sizeof msg, "finished helper task %ld", job);
    log_msg(msg);
    return 0;
}

static long handle_request(void *arg)
{
    long tag = (long)(intptr_t)arg;
    /* Write to task-local storage (tag + 1: NULL is the one value it cannot hold). */
    int rc = curio_local_set(&request_info, (void *)(intptr_t)(tag + 1));
    if (rc < 0)
        return rc;
    log_msg("Request received");
    int64_t s = curio_sleep(pauses[tag][0] * scale);
    if (s < 0)
        return s;
    curio_task *helpers[2] = {curio_spawn(concurrent_helper, (void *)(intptr_t)1),
                              curio_spawn(concurrent_helper, (void *)(intptr_t)2)};
    for (int i = 0; i < 2; i++) {                          /* await helper.join() */
        long r = -ENOMEM;
        if (helpers[i]) {
            int j = curio_join(helpers[i], &r);
            if (j < 0)
                r = j;
        }
        if (r < 0 && rc == 0)
            rc = (int)r;
        curio_task_release(helpers[i]);
    }
    if (rc < 0)
        return rc;
    s = curio_sleep(pauses[tag][3] * scale);
    if (s < 0)
        return s;
    log_msg("Request complete");
    return 0;
}

static long main_task(void *arg)
{
    (void)arg;
    curio_task *tasks[3];
    for (long i = 0; i < 3; i++)
        tasks[i] = curio_spawn(handle_request, (void *)(intptr_t)i);
    long failed = 0;
    for (int i = 0; i < 3; i++) {
        long r = -ENOMEM;
        if (tasks[i]) {
            int j = curio_join(tasks[i], &r);
            if (j < 0)
                r = j;
        }
        if (r < 0 && failed == 0)
            failed = r;
        curio_task_release(tasks[i]);
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    long result = 0;
    int rc = curio_run(main_task, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "local_storage: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
