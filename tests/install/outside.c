/* A program outside the curio tree, built against an installed curio. */
#include <curio.h>
#include <stdio.h>

static long child(void *arg)
{
    curio_sleep(0.001);
    return (long)(intptr_t)arg * 2;
}

static long main_task(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(child, (void *)(intptr_t)21);
    long r = 0;
    curio_scope s;
    curio_timeout_after(&s, 5);
    int rc = curio_join(t, &r);
    curio_scope_close(&s);
    curio_task_release(t);
    return rc < 0 ? rc : r;
}

int main(void)
{
    long r = 0;
    int rc = curio_run(main_task, NULL, NULL, &r);
    if (rc < 0 || r != 42) {
        fprintf(stderr, "outside: rc=%d (%s) r=%ld\n", rc, curio_strerror(rc), r);
        return 1;
    }
    printf("outside ok\n");
    return 0;
}
