/*
 * "Developing with Curio", Coroutines: a function that returns a value, run() driving it
 * and handing back its final result, and functions calling functions.
 *
 *     ./greeting [scale]     (the scale is accepted and unused: nothing sleeps)
 *
 * Curio:
 *     async def greeting(name):
 *         return 'Hello ' + name
 *
 *     run(greeting('Dave'))                  # 'Hello Dave'
 *
 *     async def main():
 *         for name in ['Dave', 'Paula', 'Thomas', 'Lewis']:
 *             print(await greeting(name))
 *
 * A C task is an ordinary function running on a stack of its own, so one task function
 * calls another directly: there is no `await` to forget, and whatever the callee does that
 * blocks suspends the whole stack with it. There is no coroutine object to drive by hand
 * with send() either: only the kernel runs tasks.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* async def greeting(name): the result is a string from malloc, returned as a long (the
 * task-function convention for pointers); the caller frees it. */
static long greeting(void *arg)
{
    const char *name = arg;
    size_t n = strlen("Hello ") + strlen(name) + 1;
    char *s = malloc(n);
    if (!s)
        return -ENOMEM;
    snprintf(s, n, "Hello %s", name);
    return (long)(intptr_t)s;
}

/* async def main(): print(await greeting(name)) for each name: a plain call. */
static long main_task(void *arg)
{
    (void)arg;
    const char *names[] = {"Dave", "Paula", "Thomas", "Lewis"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        long r = greeting((void *)names[i]);
        if (r < 0)
            return r;
        char *s = (char *)(intptr_t)r;
        printf("%s\n", s);
        free(s);
    }
    return 0;
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    long result = 0;
    int rc = curio_run(greeting, "Dave", NULL, &result); /* run(greeting('Dave')) */
    if (rc < 0 || result < 0) {
        fprintf(stderr, "greeting: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    char *s = (char *)(intptr_t)result;
    printf("run() returned '%s'\n", s);
    free(s);

    rc = curio_run(main_task, NULL, NULL, &result);       /* run(main()) */
    if (rc < 0 || result < 0) {
        fprintf(stderr, "greeting: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
