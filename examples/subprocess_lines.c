/*
 * The tutorial's "Subprocesses": watch a program's output in real time, line by line,
 * from a pipe (Python: `async for line in p.stdout: print('Got:', line)`).
 *
 * The tutorial runs `ping www.python.org`; ping and the network are not there everywhere,
 * so this runs a shell loop that prints like ping, one reply per interval.
 *
 *     ./subprocess_lines [scale]     (scale multiplies the interval of 1 s; default 1.0)
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static double scale = 1.0;

static long main_task(void *arg)
{
    (void)arg;
    char script[200];
    snprintf(script, sizeof script,
             "for i in 1 2 3 4; do echo \"64 bytes from localhost: icmp_seq=$i\"; "
             "sleep %g; done", scale);
    const char *argv[] = {"sh", "-c", script, NULL};
    curio_process_options o = {.stdout_mode = CURIO_STDIO_PIPE};   /* stdout=subprocess.PIPE */
    curio_process *p;
    int rc = curio_popen(&p, argv, &o);                            /* p = subprocess.Popen(...) */
    if (rc < 0)
        return rc;
    const char *line;
    ssize_t n;
    while ((n = curio_stream_readline_ref(curio_process_stdout(p), &line)) > 0) {
        printf("Got: %.*s", (int)n, line);                          /* async for line in p.stdout */
        fflush(stdout);
    }
    int status = 0;
    rc = curio_process_wait(p, &status);
    curio_process_destroy(p);
    return n < 0 ? n : rc < 0 ? rc : status;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    long result = 0;
    int rc = curio_run(main_task, NULL, NULL, &result);
    if (rc < 0 || result != 0) {
        fprintf(stderr, "subprocess_lines: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
