/*
 * The how-to's "communicate with a subprocess over a pipe": Popen with stdin and stdout
 * pipes, write to p.stdin, read from p.stdout; then the same with communicate().
 *
 * The how-to's 'cmd' is `cat` here, which echoes what it reads as soon as it reads it.
 *
 *     ./subprocess_pipe [scale]     (the scale is accepted and unused: nothing sleeps)
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static long main_task(void *arg)
{
    (void)arg;
    const char *argv[] = {"cat", NULL};
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE,  /* stdin=subprocess.PIPE */
                               .stdout_mode = CURIO_STDIO_PIPE}; /* stdout=subprocess.PIPE */
    curio_process *p;
    int rc = curio_popen(&p, argv, &o);
    if (rc < 0)
        return rc;
    ssize_t n = curio_stream_write(curio_process_stdin(p), "Some data", 9, NULL);
    char resp[100];
    if (n >= 0)                                                   /* await p.stdout.read(maxsize) */
        n = curio_stream_read(curio_process_stdout(p), resp, sizeof resp);
    if (n > 0)
        printf("Got back: %.*s\n", (int)n, resp);
    curio_process_close_stdin(p);                                 /* cat sees end of file */
    int status = -1;
    curio_process_wait(p, &status);
    printf("cat exited with status %d\n", status);
    curio_process_destroy(p);
    if (n < 0)
        return n;

    /* stdout, stderr = await p.communicate(input) */
    const char *sh[] = {"sh", "-c", "tr a-z A-Z; echo done >&2", NULL};
    o.stderr_mode = CURIO_STDIO_PIPE;
    if ((rc = curio_popen(&p, sh, &o)) < 0)
        return rc;
    curio_completed res;
    rc = curio_process_communicate(p, "more data\n", 10, &res);
    if (rc == 0)
        printf("stdout: %sstderr: %sstatus: %d\n", res.out, res.err, res.returncode);
    curio_completed_free(&res);
    curio_process_destroy(p);
    return rc;
}

int main(void)
{
    long result = 0;
    int rc = curio_run(main_task, NULL, NULL, &result);
    if (rc < 0 || result != 0) {
        fprintf(stderr, "subprocess_pipe: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
