/*
 * Read standard input line by line while another task keeps time: the reading task is
 * suspended in io_uring while no input is there, and the timer task runs meanwhile.
 *
 *     ./readstdin [scale]     (the timer ticks every scale seconds; default 1.0)
 *
 * Curio:
 *     async def ticker():
 *         n = 0
 *         while True:
 *             await sleep(1)
 *             n += 1
 *             print('tick', n)
 *
 *     async def main():
 *         t = await spawn(ticker)
 *         stdin = FileStream(sys.stdin.buffer.raw)
 *         async for line in stdin:
 *             print('got:', line.decode().rstrip())
 *         await t.cancel()
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static double scale = 1.0;

static long ticker(void *arg)
{
    (void)arg;
    for (long n = 1;; n++) {
        int64_t rc = curio_sleep(scale);
        if (rc < 0)
            return rc; /* cancelled */
        printf("tick %ld\n", n);
        fflush(stdout);
    }
}

static long reader(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(ticker, NULL);
    if (!t)
        return -ENOMEM;
    curio_stream_options o = {.keep_fd = true}; /* standard input stays open */
    curio_stream *in;
    int rc = curio_stream_open(&in, STDIN_FILENO, &o);
    long lines = 0;
    if (rc == 0) {
        const char *line;
        ssize_t n;
        while ((n = curio_stream_readline_ref(in, &line)) > 0) {
            int len = (int)n - (line[n - 1] == '\n');
            printf("got: %.*s\n", len, line);
            fflush(stdout);
            lines++;
        }
        if (n < 0)
            fprintf(stderr, "readstdin: %s\n", curio_strerror((int)n));
        curio_stream_close(in);
    }
    curio_cancel(t);
    curio_task_release(t);
    printf("%ld lines\n", lines);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    long result;
    int rc = curio_run(reader, NULL, NULL, &result);
    if (rc < 0) {
        fprintf(stderr, "readstdin: %s\n", curio_strerror(rc));
        return 1;
    }
    return result < 0 ? 1 : 0;
}
