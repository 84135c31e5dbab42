/*
 * The tutorial's and the how-to's check_output(): run a command, collect what it prints,
 * and tell a failure apart (Python: `except subprocess.CalledProcessError as e:`).
 *
 * The tutorial runs `netstat -a`, which is not installed everywhere; `ls -d` of two
 * directories that exist, and of one that does not, show the same two outcomes.
 *
 *     ./check_output [scale]     (the scale is accepted and unused: nothing sleeps)
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static long check(const char *const *argv)
{
    char *out = NULL;
    curio_run_options o = {.process.stderr_mode = CURIO_STDIO_DEVNULL};
    int rc = curio_subprocess_check_output(argv, &o, &out, NULL); /* out = await check_output */
    if (rc == 0)
        printf("%s", out);
    else                                   /* except subprocess.CalledProcessError as e: */
        printf("It failed! %s: %s\n", argv[0], curio_strerror(rc));
    free(out);                             /* (set on failure too: what it printed) */
    return rc == CURIO_EPROCESS ? 0 : rc;
}

static long main_task(void *arg)
{
    (void)arg;
    const char *ok[] = {"ls", "-d", "/", "/tmp", NULL};
    const char *missing[] = {"ls", "-d", "/nonexistent-directory", NULL};
    long rc = check(ok);
    if (rc == 0)
        rc = check(missing);
    return rc;
}

int main(void)
{
    long result = 0;
    int rc = curio_run(main_task, NULL, NULL, &result);
    if (rc < 0 || result != 0) {
        fprintf(stderr, "check_output: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
