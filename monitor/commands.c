/*
 * monitor/commands.c - the command table: parsing a command line, help, quit, signal, and
 * the argument helpers the task commands share (tasks.c, where.c).
 *
 * A command is its name or any unambiguous prefix of it ("w 3", "can 3"), then its
 * arguments. Replies to commands that failed begin with "Error: ", so that scripts (and
 * curio-monitor's exit status) can tell.
 */
#include "monitor.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int cmd_help(curio__mon_session *s, char *arg);
static int cmd_quit(curio__mon_session *s, char *arg);
static int cmd_signal(curio__mon_session *s, char *arg);
static int json_command(curio__mon_session *s, char *arg);

static const struct command {
    const char *name;
    int (*run)(curio__mon_session *s, char *arg);
    const char *args;   /* NULL: takes none */
    const char *help;
    bool rest;          /* its argument is the rest of the line (a command) */
} commands[] = {
    {"ps", curio__mon_cmd_ps, NULL, "Show task table", false},
    {"where", curio__mon_cmd_where, "taskid", "Show the C call stack of a task", false},
    {"ended", curio__mon_cmd_ended, NULL, "Show the last tasks to end, and how", false},
    {"blocked", curio__mon_cmd_waits, NULL, "Show what each blocked task waits on", false},
    {"stats", curio__mon_cmd_stats, NULL, "Show the kernel's counters", false},
    {"kernels", curio__mon_cmd_kernels, NULL, "Show every kernel of the run", false},
    {"on", curio__mon_cmd_on, "kernel command", "Run a command on another kernel of the run",
     true},
    {"cancel", curio__mon_cmd_cancel, "taskid", "Cancel an indicated task", false},
    {"signal", cmd_signal, "signame", "Send a Unix signal to this process", false},
    {"parents", curio__mon_cmd_parents, "taskid", "List task parents", false},
    {"help", cmd_help, NULL, "Show this list", false},
    {"json", json_command, "command", "Run a command and reply in JSON (one object)", true},
    {"quit", cmd_quit, NULL, "Leave the monitor", false},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static int cmd_help(curio__mon_session *s, char *arg)
{
    (void)arg;
    curio__text_printf(&s->out, "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char usage[40];
        snprintf(usage, sizeof usage, "%s %s", commands[i].name,
                 commands[i].args ? commands[i].args : "");
        curio__text_printf(&s->out, "    %-16s : %s\n", usage, commands[i].help);
    }
    curio__text_printf(&s->out, "'where all' shows every task's stack; 'json ps' (and so on) "
                                "replies in JSON.\n");
    curio__text_printf(&s->out, "A command may be shortened to any unambiguous prefix.\n");
    return 0;
}

static int cmd_quit(curio__mon_session *s, char *arg)
{
    (void)arg;
    s->quit = true;
    return 0;
}

/* ---- signal ---- */

/* A signal by number, or by name with or without "SIG", in any case ("SIGHUP", "hup"),
 * including "RTMIN+n" and "RTMAX-n". Returns it, or 0. */
static int parse_signal(const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (end != arg && !*end)
        return v > 0 && v <= SIGRTMAX ? (int)v : 0;
    if (strncasecmp(arg, "SIG", 3) == 0)
        arg += 3;
    for (int sig = 1; sig < SIGRTMIN; sig++) {
        const char *name = sigabbrev_np(sig);
        if (name && strcasecmp(name, arg) == 0)
            return sig;
    }
    int base = 0, sign = 0;
    if (strncasecmp(arg, "RTMIN", 5) == 0)
        base = SIGRTMIN, sign = 1;
    else if (strncasecmp(arg, "RTMAX", 5) == 0)
        base = SIGRTMAX, sign = -1;
    if (!base)
        return 0;
    arg += 5;
    if (!*arg)
        return base;
    if (*arg != (sign > 0 ? '+' : '-') || !isdigit((unsigned char)arg[1]))
        return 0;
    v = strtol(arg + 1, &end, 10);
    if (*end || v > SIGRTMAX - SIGRTMIN)
        return 0;
    return base + sign * (int)v;
}

static void signal_name(int sig, char *buf, size_t cap)
{
    const char *name = sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;
    if (name)
        snprintf(buf, cap, "SIG%s", name);
    else if (sig - SIGRTMIN <= SIGRTMAX - sig)
        snprintf(buf, cap, "SIGRTMIN+%d", sig - SIGRTMIN);
    else
        snprintf(buf, cap, "SIGRTMAX-%d", SIGRTMAX - sig);
}

static int cmd_signal(curio__mon_session *s, char *arg)
{
    int sig = parse_signal(arg);
    if (!sig) {
        curio__text_printf(&s->out, "Error: unknown signal '%s'\n", arg);
        return 0;
    }
    char name[32];
    signal_name(sig, name, sizeof name);
    /* The reply goes first: the signal may well end the process. */
    if (s->json)
        curio__text_printf(&s->out, "{\"signal\": \"%s\", \"number\": %d, \"pid\": %ld}\n",
                           name, sig, (long)getpid());
    else
        curio__text_printf(&s->out, "Sending %s (%d) to process %ld\n", name, sig,
                           (long)getpid());
    int rc = curio__mon_flush(s);
    if (rc < 0)
        return rc;
    if (kill(getpid(), sig) < 0)
        curio__text_printf(&s->out, "Error: kill: %s\n", curio_strerror(-errno));
    return 0;
}

/* ---- task arguments ---- */

bool curio__mon_task_arg(curio__mon_session *s, const char *arg, const char *cmd,
                         curio__task **out)
{
    char *end;
    unsigned long long id = strtoull(arg, &end, 10);
    if (!isdigit((unsigned char)arg[0]) || *end) {
        curio__text_printf(&s->out, "Error: %s needs a task id (a number), not '%s'\n", cmd,
                           arg);
        return false;
    }
    *out = curio__task_lookup(s->mon->k, id);
    if (!*out) {
        curio__text_printf(&s->out, "Error: no task %llu\n", id);
        return false;
    }
    return true;
}

/* ---- the command line ---- */

static const struct command *lookup(curio__mon_session *s, const char *word)
{
    const struct command *found = NULL;
    size_t n = strlen(word);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, word) == 0)
            return &commands[i];
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strncmp(commands[i].name, word, n) == 0) {
            if (found) {
                curio__text_printf(&s->out, "Error: '%s' is ambiguous (%s, %s ...). Type "
                                            "help.\n", word, found->name, commands[i].name);
                return NULL;
            }
            found = &commands[i];
        }
    }
    if (!found)
        curio__text_printf(&s->out, "Error: unknown command '%s'. Type help.\n", word);
    return found;
}

/* Under `json`: a reply that is not JSON already (an error, a command with a text reply
 * only) becomes {"error": "..."} or {"text": "..."}, from `start` of s->out on. */
static void json_wrap(curio__mon_session *s, size_t start)
{
    if (s->out.failed || s->out.len <= start || s->out.p[start] == '{')
        return;
    char *text = strdup(s->out.p + start);
    if (!text) {
        s->out.failed = true;
        return;
    }
    s->out.len = start;
    s->out.p[start] = 0;
    const char *key = "text", *body = text;
    if (strncmp(text, "Error: ", 7) == 0)
        key = "error", body = text + 7;
    size_t n = strlen(body);
    if (n && body[n - 1] == '\n')
        text[(size_t)(body - text) + n - 1] = 0;
    curio__text_printf(&s->out, "{\"%s\": ", key);
    curio__text_json(&s->out, body);
    curio__text_printf(&s->out, "}\n");
    free(text);
}

static int json_command(curio__mon_session *s, char *arg)
{
    if (!*arg) {
        curio__text_printf(&s->out, "{\"error\": \"usage: json command [argument]\"}\n");
        return 0;
    }
    bool was = s->json;
    s->json = true;
    size_t start = s->out.len;
    int rc = curio__mon_command(s, arg);
    if (rc == 0)
        json_wrap(s, start);
    s->json = was;
    return rc;
}

int curio__mon_command(curio__mon_session *s, char *line)
{
    char *word = line + strspn(line, " \t");
    if (!*word)
        return 0;
    char *arg = word + strcspn(word, " \t");
    if (*arg)
        *arg++ = 0;
    arg += strspn(arg, " \t");
    for (size_t n = strlen(arg); n && (arg[n - 1] == ' ' || arg[n - 1] == '\t'); n--)
        arg[n - 1] = 0;
    const struct command *c = lookup(s, word);
    if (!c)
        return 0;
    if (c->rest)
        return c->run(s, arg);
    if (!c->args && *arg) {
        curio__text_printf(&s->out, "Error: %s takes no argument\n", c->name);
        return 0;
    }
    if (c->args && (!*arg || strpbrk(arg, " \t"))) {
        curio__text_printf(&s->out, "Error: usage: %s %s\n", c->name, c->args);
        return 0;
    }
    /* A task of another kernel of the run: K:N. */
    char *colon = strchr(arg, ':');
    if (colon && strcmp(c->args, "taskid") == 0) {
        char *end;
        unsigned long k = strtoul(arg, &end, 10);
        if (end != colon || !isdigit((unsigned char)arg[0]) || k > 65535 ||
            (!s->mon->run && k != 0)) {
            curio__text_printf(&s->out, "Error: no kernel '%.*s'%s\n", (int)(colon - arg),
                               arg, s->mon->run ? "" : ": not a curio_cores_run");
            return 0;
        }
        int was = s->target;
        s->target = s->mon->run && k != s->mon->core ? (int)k : -1;
        int rc = c->run(s, colon + 1);
        s->target = was;
        return rc;
    }
    return c->run(s, arg);
}
